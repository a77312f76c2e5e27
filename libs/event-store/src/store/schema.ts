// The event store's schema, applied by the library on start (migrate()), in order, once each,
// under an advisory lock so that instances starting together do not race.
import type { Pool, PoolClient } from 'pg';

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
      -- Two indexes, as few as the reads need: every index is written by every append, and
      -- the append is bound by WAL and CPU (docs/event-store.md). The stream key reads a stream
      -- and guards concurrency; (transaction, position) orders read-all and joins the outbox.
      -- Event ids are UUID v7 made by the store; duplicate commands are the inbox's business.
      CREATE TABLE events (
        stream_type     text        NOT NULL,
        stream_id       text        NOT NULL,
        stream_version  integer     NOT NULL CHECK (stream_version > 0),
        global_position bigint      NOT NULL GENERATED ALWAYS AS IDENTITY,
        event_id        uuid        NOT NULL,
        event_type      text        NOT NULL,
        schema_version  integer     NOT NULL CHECK (schema_version > 0),
        data            jsonb       NOT NULL,
        metadata        jsonb       NOT NULL,
        recorded_at     timestamptz NOT NULL DEFAULT now(),
        -- The writing transaction: readers of "all events" only read rows of transactions
        -- older than every running one, so a late commit is never skipped.
        transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
        -- The optimistic-concurrency guard.
        CONSTRAINT events_stream_version PRIMARY KEY (stream_type, stream_id, stream_version)
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
      -- commands, dead letters) carry their payload. One index, the relay's reading order.
      CREATE TABLE outbox (
        transaction_id xid8        NOT NULL DEFAULT pg_current_xact_id(),
        id             bigint      NOT NULL GENERATED ALWAYS AS IDENTITY,
        topic          text        NOT NULL,
        message_key    text        NOT NULL,
        message_id     uuid        NOT NULL,
        event_position bigint,
        headers        jsonb       NOT NULL DEFAULT '{}',
        payload        jsonb,
        CHECK ((event_position IS NULL) <> (payload IS NULL)),
        created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (transaction_id, id)
      );

      -- The relay's state. Its mark: every outbox row at or before (published_transaction_id,
      -- published_id) is published. Rows are read behind the xmin horizon in that order, so a
      -- row never appears behind the mark later (the read-all argument, docs/event-store.md),
      -- and one row written per batch marks the whole batch.
      -- The relay is woken by NOTIFY, but only while it waits: NOTIFY takes a cluster-wide lock
      -- from pre-commit through the WAL flush, so notifying on every transaction serializes all
      -- commits (measured: half the append rate at 8 writers). The leader sets waiting before
      -- it sleeps; the first append after that notifies (the append statement itself, see
      -- append-statement.ts; a trigger cost ~25 us of server CPU per append); while it drains it is
      -- not waiting and nobody notifies.
      CREATE TABLE outbox_relay_state (
        id                       integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
        waiting                  boolean     NOT NULL DEFAULT false,
        published_transaction_id xid8        NOT NULL DEFAULT '0',
        published_id             bigint      NOT NULL DEFAULT 0,
        published_at             timestamptz
      );
      INSERT INTO outbox_relay_state DEFAULT VALUES;

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
  {
    version: 2,
    name: 'the relay waits under an advisory lock, not a flag',
    sql: `
      -- Writers read the flag in every append that wrote outbox rows: about 9 us of server CPU
      -- per append, 7% of the append rate at 32 writers. The sleeping relay holds an advisory
      -- lock instead, which writers try to take shared (append-statement.ts), and which goes with the
      -- relay's connection: a relay that dies asleep no longer makes every append notify.
      ALTER TABLE outbox_relay_state DROP COLUMN waiting;
    `,
  },
  {
    version: 3,
    name: 'no CHECK constraints on the append path',
    sql: `
      -- PostgreSQL rebuilds a CHECK constraint's expression from its stored text (stringToNode)
      -- in every INSERT statement: the three below cost about 7 us of the append's ~110 us of
      -- server CPU (perf, docs/event-store.md). Each is guaranteed by the one writer instead:
      -- versions are an expected version >= 0 plus 1..n (append-statement.ts), schema versions come
      -- from the registry, which refuses any but a positive integer, and each outbox row of the
      -- statement has either an event or a payload (pinned by an int test over all its shapes).
      -- Dropping a constraint touches no row.
      ALTER TABLE events DROP CONSTRAINT IF EXISTS events_stream_version_check,
                         DROP CONSTRAINT IF EXISTS events_schema_version_check;
      ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_check;
    `,
  },
  {
    version: 4,
    name: 'a failed expected version can raise',
    sql: `
      -- Appends to several streams are sent together, in one round trip and one transaction
      -- (PostgresEventStore.appendAll): a failed version check must then fail them all, not
      -- quietly write nothing for its own stream. Called only when the check fails.
      CREATE FUNCTION es_expected_version(stream_type text, stream_id text, expected integer, actual integer)
      RETURNS integer LANGUAGE plpgsql AS $$
      BEGIN
        IF expected IS NULL OR expected = actual THEN RETURN actual; END IF;
        RAISE EXCEPTION 'stream %/%: expected version %, but it is at %', stream_type, stream_id, expected, actual
          USING ERRCODE = 'ES409';
      END $$;
    `,
  },
  {
    version: 5,
    name: 'stream summaries',
    sql: `
      -- A stream's summary, kept by its own appends (AggregateDefinition.summary), in the
      -- append's statement: its status, the step it is at and when it is next due. The saga
      -- orchestrator finds due deadlines and lists sagas by state here, in typed, indexed
      -- columns, instead of reading the snapshots' JSON by path (a renamed state field would
      -- have silently stopped deadlines). A row is only replaced by a later version's.
      CREATE TABLE stream_summaries (
        stream_type    text        NOT NULL,
        stream_id      text        NOT NULL,
        stream_version integer     NOT NULL,
        status         text        NOT NULL,
        step           text,
        due_at         timestamptz,
        started_at     timestamptz,
        updated_at     timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (stream_type, stream_id)
      );
      CREATE INDEX stream_summaries_due ON stream_summaries (stream_type, due_at)
        WHERE due_at IS NOT NULL;
      CREATE INDEX stream_summaries_status ON stream_summaries (stream_type, status, started_at);
    `,
  },
  {
    version: 6,
    name: 'the outbox published from logical decoding',
    sql: `
      -- The decoding relay (decoding-relay.ts) streams this publication from a replication slot:
      -- inserts only (the purge's deletes are not published), the outbox rows with the events
      -- they point at, which were written by the same statement. A publication costs the
      -- writers nothing by itself (wal_level=logical does, and is the cluster's setting); a
      -- slot retains WAL until its relay confirms it (docs/event-store.md, Relay).
      CREATE PUBLICATION es_outbox FOR TABLE outbox, events WITH (publish = 'insert');
      -- The slot whose relay published, from the table, everything committed before the slot
      -- began and after the mark: set in the transaction that moved the mark past it. A slot
      -- that exists under another name here, or under none, is made again.
      ALTER TABLE outbox_relay_state ADD COLUMN decoding_slot text;
    `,
  },
  {
    version: 7,
    name: 'the sequenced dead-letter store',
    sql: `
      -- Messages a consumer parked (dead-letters.ts in @es/messaging): one that can never be
      -- handled as it is ('failed'), and every later message of its key, which waits behind it
      -- ('behind') so that the key's order holds when they are redriven. A sequence is
      -- (consumer, topic, message_key) in id order; its parked letters are redriven from the
      -- first, or discarded with a reason. A parked message is not in the inbox: redriven, its
      -- handler writes the inbox mark with its effect; discarded, the discard writes one, so a
      -- redelivery of it has no effect either way. A Kafka message's payload is kept as JSON,
      -- or as its text in a JSON string when it was not JSON (raw).
      CREATE TABLE dead_letters (
        id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        consumer        text        NOT NULL,
        topic           text        NOT NULL,
        message_key     text        NOT NULL,
        message_id      text        NOT NULL,
        kafka_partition integer     NOT NULL,
        kafka_offset    bigint      NOT NULL,
        headers         jsonb       NOT NULL,
        payload         jsonb       NOT NULL,
        raw             boolean     NOT NULL,
        cause           text        NOT NULL,
        error           text,
        attempts        integer     NOT NULL,
        status          text        NOT NULL DEFAULT 'parked',
        parked_at       timestamptz NOT NULL DEFAULT now(),
        resolved_at     timestamptz,
        resolution      text,
        resolved_by     text,
        UNIQUE (consumer, message_id)
      );
      CREATE INDEX dead_letters_parked ON dead_letters (consumer, topic, message_key, id)
        WHERE status = 'parked';
    `,
  },
  {
    version: 8,
    name: 'republishes',
    sql: `
      -- Republishes of this store's events to their topics (service-runtime's republish.ts):
      -- a row each, its progress written after every batch, so any instance answers for it and
      -- one whose instance stopped shows as interrupted (its heartbeat stops). from_offsets:
      -- each topic's partitions' end offsets when it began (topic -> partition -> offset).
      CREATE TABLE republishes (
        id           uuid        PRIMARY KEY,
        scope        jsonb       NOT NULL,
        status       text        NOT NULL,
        events       integer     NOT NULL DEFAULT 0,
        total        integer,
        from_offsets jsonb       NOT NULL DEFAULT '{}',
        requested_by text,
        started_at   timestamptz NOT NULL DEFAULT now(),
        heartbeat_at timestamptz NOT NULL DEFAULT now(),
        completed_at timestamptz,
        error        text
      );
    `,
  },
  {
    version: 9,
    name: 'the purge of HTTP idempotency keys',
    sql: `
      -- An HTTP command's Idempotency-Key is an inbox row of consumer 'http:...', kept for a
      -- retention (IDEMPOTENCY_KEY_RETENTION_HOURS) and then purged (idempotency-keys.ts): this
      -- index finds the old ones without reading the consumers' marks, which stay.
      CREATE INDEX inbox_http_processed_at ON inbox (processed_at) WHERE consumer LIKE 'http:%';
    `,
  },
];

const LOCK_KEY = 'es:event-store:migrations';

export interface MigrateOptions {
  /**
   * A service's own login role, which the migrating role (the tables' owner) then grants what a
   * service needs and no more: connecting to this database (whose CONNECT is taken from
   * PUBLIC), reading and writing every table but the events, which it may only read and
   * insert into (no UPDATE, DELETE or TRUNCATE): what is written stays written.
   */
  readonly grantTo?: string;
}

/**
 * Applies the migrations not applied yet, in order, under an advisory lock. A role that may not
 * create tables (a service's least-privilege role) may call it on an up-to-date schema, which
 * only reads es_migrations; with migrations pending it fails, saying which.
 */
export async function migrate(
  pool: Pool,
  migrations: readonly Migration[] = MIGRATIONS,
  options: MigrateOptions = {},
): Promise<number[]> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [LOCK_KEY]);
    try {
      const pending = await pendingMigrations(client, migrations);
      const done: number[] = [];
      if (pending.length > 0) await createMigrationsTable(client, pending);
      for (const m of pending) {
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
      if (options.grantTo !== undefined) await grantServiceRole(client, options.grantTo);
      return done;
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}

async function pendingMigrations(
  client: PoolClient,
  migrations: readonly Migration[],
): Promise<Migration[]> {
  const { rows: exists } = await client.query<{ found: boolean }>(
    "SELECT to_regclass('es_migrations') IS NOT NULL AS found",
  );
  const applied = new Set<number>();
  if (exists[0]?.found) {
    const { rows } = await client.query<{ version: number }>('SELECT version FROM es_migrations');
    for (const row of rows) applied.add(row.version);
  }
  return [...migrations]
    .sort((a, b) => a.version - b.version)
    .filter((m) => !applied.has(m.version));
}

async function createMigrationsTable(client: PoolClient, pending: readonly Migration[]) {
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS es_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  } catch (error) {
    if ((error as { code?: string }).code !== '42501') throw error;
    const { rows } = await client.query<{ role: string }>('SELECT current_user AS role');
    throw new Error(
      `the event store's schema lacks migrations ${pending.map((m) => m.version).join(', ')}, ` +
        `which role ${rows[0]?.role} may not apply: set PG_MIGRATION_USER to the database's ` +
        `owner (docs/security.md, PostgreSQL)`,
      { cause: error },
    );
  }
}

const quoted = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** Idempotent: run after every migration, so a table added later is granted too. */
async function grantServiceRole(client: PoolClient, role: string): Promise<void> {
  const { rows } = await client.query<{ db: string }>('SELECT current_database() AS db');
  const db = quoted(rows[0]?.db ?? '');
  const r = quoted(role);
  await client.query(`
    REVOKE CONNECT, TEMPORARY ON DATABASE ${db} FROM PUBLIC;
    GRANT CONNECT ON DATABASE ${db} TO ${r};
    REVOKE CREATE ON SCHEMA public FROM PUBLIC;
    GRANT USAGE ON SCHEMA public TO ${r};
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${r};
    REVOKE UPDATE, DELETE, TRUNCATE ON events, es_migrations FROM ${r};
    REVOKE INSERT ON es_migrations FROM ${r};
    GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${r};`);
}
