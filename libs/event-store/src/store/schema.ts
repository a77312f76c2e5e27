// The event store's schema, applied by the library on start (migrate()), in order, once each,
// under an advisory lock so that instances starting together do not race.
import type { Pool } from 'pg';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'events, snapshots, outbox, inbox',
    sql: `
      CREATE TABLE events (
        global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        stream_type     text        NOT NULL,
        stream_id       text        NOT NULL,
        stream_version  integer     NOT NULL CHECK (stream_version > 0),
        event_id        uuid        NOT NULL UNIQUE,
        event_type      text        NOT NULL,
        schema_version  integer     NOT NULL CHECK (schema_version > 0),
        data            jsonb       NOT NULL,
        metadata        jsonb       NOT NULL,
        recorded_at     timestamptz NOT NULL DEFAULT now(),
        -- The writing transaction: readers of "all events" only read rows of transactions
        -- older than every running one, so a late commit is never skipped.
        transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
        -- The optimistic-concurrency guard.
        CONSTRAINT events_stream_version UNIQUE (stream_type, stream_id, stream_version)
      );
      CREATE INDEX events_all_order ON events (transaction_id, global_position);

      CREATE TABLE snapshots (
        stream_type    text        NOT NULL,
        stream_id      text        NOT NULL,
        stream_version integer     NOT NULL,
        schema_version integer     NOT NULL,
        state          jsonb       NOT NULL,
        taken_at       timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (stream_type, stream_id)
      );

      -- A message to publish. An event's message points at the event (event_position) and the
      -- relay builds it from the event row, upcast, at publish time: copying the event into the
      -- outbox doubled the WAL written per append (docs/event-store.md). Other messages (saga
      -- commands, dead letters) carry their payload.
      CREATE TABLE outbox (
        id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        transaction_id xid8        NOT NULL DEFAULT pg_current_xact_id(),
        topic          text        NOT NULL,
        message_key    text        NOT NULL,
        message_id     uuid        NOT NULL,
        event_position bigint,
        headers        jsonb       NOT NULL DEFAULT '{}',
        payload        jsonb,
        CHECK ((event_position IS NULL) <> (payload IS NULL)),
        created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
        published_at   timestamptz
      );
      CREATE INDEX outbox_unpublished ON outbox (transaction_id, id) WHERE published_at IS NULL;
      CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;

      -- The relay is woken by NOTIFY, but only while it waits: NOTIFY takes a cluster-wide lock
      -- from pre-commit through the WAL flush, so notifying on every transaction serializes all
      -- commits (measured: half the append rate at 8 writers, docs/event-store.md). The leader
      -- sets waiting before it sleeps; the first commit after that wakes it; while it drains it
      -- is not waiting and nobody notifies. Identical notifications in one transaction are
      -- folded into one by Postgres.
      CREATE TABLE outbox_relay_state (
        id      integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
        waiting boolean NOT NULL DEFAULT false
      );
      INSERT INTO outbox_relay_state DEFAULT VALUES;
      CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF (SELECT waiting FROM outbox_relay_state WHERE id = 1) THEN
          PERFORM pg_notify('outbox', '');
        END IF;
        RETURN NULL;
      END $$;
      CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
        FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

      -- Messages and commands already handled, per consumer, with the first result: a
      -- redelivery or a retried request returns it and writes nothing.
      CREATE TABLE inbox (
        consumer     text        NOT NULL,
        message_id   text        NOT NULL,
        result       jsonb,
        processed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (consumer, message_id)
      );
    `,
  },
];

const LOCK_KEY = 'es:event-store:migrations';

export async function migrate(
  pool: Pool,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number[]> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [LOCK_KEY]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS es_migrations (
        version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      const { rows } = await client.query<{ version: number }>('SELECT version FROM es_migrations');
      const applied = new Set(rows.map((r) => r.version));
      const done: number[] = [];
      for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
        if (applied.has(m.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO es_migrations (version, name) VALUES ($1, $2)', [
            m.version,
            m.name,
          ]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK');
          throw new Error(
            `migration ${m.version} (${m.name}) failed: ${(error as Error).message}`,
            { cause: error },
          );
        }
        done.push(m.version);
      }
      return done;
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}
