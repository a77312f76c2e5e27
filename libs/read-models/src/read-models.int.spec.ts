// The projection runner, host and reader on the real engines (Kafka and the MongoDB wire server):
// redelivery, poison events, two instances and a rebalance, a SIGKILL mid-stream, and a rebuild
// under live traffic.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Kafka, Producer } from 'kafkajs';
import type { Collection } from 'mongodb';
import { dlqTopic, publishRepublishMarkers, REPUBLISH_ID_HEADER } from '@es/messaging';
import { mongoConfig } from '@es/runtime-config';
import {
  childKafkaEnv,
  collect,
  createTestMongo,
  createTopic,
  eventually,
  testKafka,
  uniqueName,
  type TestMongo,
} from '@es/testing';
import type { StoredDocument } from './apply';
import { ProjectionHost, TopicTruncatedError } from './host';
import { ProjectionWriter } from './mongo-writer';
import { NotYetConsistentError, ReadModels } from './reader';
import { ProjectionRunner } from './runner';
import { defineProjection } from './projection';
import {
  credit,
  ledgerDefinition,
  ledgerProjection,
  type LedgerDocument,
} from './testing/ledger.projection';

type Credit = ReturnType<typeof credit>;

describe('read models on Kafka and the MongoDB wire protocol', () => {
  let kafka: Kafka;
  let admin: Admin;
  let producer: Producer;
  let mongo: TestMongo;
  const runners: ProjectionRunner[] = [];
  const hosts: ProjectionHost[] = [];

  beforeAll(async () => {
    kafka = testKafka('read-models-int');
    admin = kafka.admin();
    await admin.connect();
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    mongo = await createTestMongo('read_models_int');
  });
  afterEach(async () => {
    await Promise.all(runners.splice(0).map((r) => r.stop()));
    await Promise.all(hosts.splice(0).map((h) => h.stop()));
  });
  afterAll(async () => {
    await producer.disconnect();
    await admin.disconnect();
    await mongo.drop();
  });

  async function newTopic(partitions = 6): Promise<string> {
    const topic = uniqueName('ledger');
    await createTopic(admin, topic, partitions);
    await createTopic(admin, dlqTopic(topic), 1);
    return topic;
  }

  async function send(
    topic: string,
    credits: readonly (Credit | string)[],
    headers: Record<string, string> = {},
  ): Promise<void> {
    for (let i = 0; i < credits.length; i += 500)
      await producer.send({
        topic,
        acks: -1,
        messages: credits.slice(i, i + 500).map((c) =>
          typeof c === 'string'
            ? { key: 'garbage', value: c }
            : {
                key: c.streamId,
                value: JSON.stringify(c),
                headers: { 'event-type': c.type, ...headers },
              },
        ),
      });
  }

  /** `accounts` accounts with `perAccount` credits each, amounts 1..perAccount, interleaved. */
  function ledger(accounts: number, perAccount: number, prefix = uniqueName('acct')): Credit[] {
    const credits: Credit[] = [];
    for (let v = 1; v <= perAccount; v++)
      for (let a = 0; a < accounts; a++) credits.push(credit(`${prefix}-${a}`, v, v));
    return credits;
  }

  /** What the documents must be: every distinct (account, version) applied once. */
  function expected(credits: readonly Credit[]): Record<string, LedgerDocument> {
    const seen = new Set<string>();
    const docs: Record<string, LedgerDocument> = {};
    for (const c of credits) {
      if (seen.has(c.eventId)) continue;
      seen.add(c.eventId);
      const doc = docs[c.streamId];
      docs[c.streamId] = {
        account: c.streamId,
        balance: (doc?.balance ?? 0) + c.data.amount,
        credits: (doc?.credits ?? 0) + 1,
        version: Math.max(doc?.version ?? 0, c.streamVersion),
      };
    }
    return docs;
  }

  async function documents(
    collection: Collection<StoredDocument>,
  ): Promise<Record<string, LedgerDocument>> {
    const docs: Record<string, LedgerDocument> = {};
    for (const d of await collection.find({}).toArray()) {
      const { account, balance, credits, version } = d as unknown as LedgerDocument;
      docs[d._id] = { account, balance, credits, version };
    }
    return docs;
  }

  function checksum(docs: Record<string, LedgerDocument>): string {
    const lines = Object.keys(docs)
      .sort()
      .map((id) => JSON.stringify(docs[id]));
    return createHash('sha256').update(lines.join('\n')).digest('hex');
  }

  /** A projection host of its own for one ledger topic, as each service instance runs one. */
  async function startLedgerHost(topic: string) {
    const name = `ledger-${Math.random().toString(36).slice(2, 8)}`;
    const host = new ProjectionHost({
      kafka,
      db: mongo.db,
      projections: [ledgerProjection(topic, name)],
      reconcileIntervalMs: 200,
      retireAfterMs: 1_500,
    });
    hosts.push(host);
    await host.start();
    /** The collection of one of its generations. */
    const generation = (n: number) =>
      mongo.db.collection<StoredDocument>(`${name.replaceAll('-', '_')}_g${n}`);
    return { name, host, generation };
  }

  async function startRunner(
    topic: string,
    collection: Collection<StoredDocument>,
    groupId: string,
    chunkSize = 100,
  ) {
    const runner = new ProjectionRunner({
      kafka,
      projection: ledgerProjection(topic),
      collection,
      groupId,
      generation: 1,
      chunkSize,
    });
    runners.push(runner);
    await runner.start();
    return runner;
  }

  it('duplicates and out-of-order redelivery leave the same documents', async () => {
    const topic = await newTopic();
    const credits = ledger(10, 20);
    // Then every account's history again, newest first: duplicates, and older after newer.
    const redelivered = [...credits].reverse();
    await send(topic, [...credits, ...redelivered, ...credits.slice(0, 37)]);
    const collection = mongo.db.collection<StoredDocument>(uniqueName('ledger'));
    const runner = await startRunner(topic, collection, uniqueName('group'));
    await eventually(
      async () => {
        expect(await documents(collection)).toEqual(expected(credits));
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    expect(runner.counts()).toMatchObject({ applied: 200, duplicates: 237, deadLettered: 0 });
  });

  it('a writer whose cached document another writer changed, or that took an existing one as new, reloads and stays exact', async () => {
    const projection = ledgerProjection('unused');
    const collection = mongo.db.collection<StoredDocument>(uniqueName('ledger'));
    const account = uniqueName('acct');
    const a = new ProjectionWriter(projection, collection);
    const b = new ProjectionWriter(projection, collection);
    // A writes and caches v1; B (a rebalance moved the partition) writes v2; back to A for v3.
    expect(await a.write([credit(account, 1, 1)])).toMatchObject({ applied: 1, conflicts: 0 });
    expect(await b.write([credit(account, 1, 1), credit(account, 2, 2)])).toMatchObject({
      applied: 1,
      duplicates: 1,
    });
    expect(await a.write([credit(account, 2, 2), credit(account, 3, 3)])).toMatchObject({
      applied: 1,
      duplicates: 1,
      conflicts: 1,
    });
    // A writer that started on an "empty" collection takes an uncached document as new: the
    // insert meets the existing _id, and the chunk is reloaded and folded again.
    const fresh = new ProjectionWriter(projection, collection, { startedEmpty: true });
    expect(await fresh.write([credit(account, 3, 3), credit(account, 4, 4)])).toMatchObject({
      applied: 1,
      duplicates: 1,
      conflicts: 1,
    });
    expect(await documents(collection)).toEqual({
      [account]: { account, balance: 10, credits: 4, version: 4 },
    });
    // A wrong "new" guess that makes evolve throw (an event that needs the existing document)
    // writes nothing that would reveal it: the chunk is folded again on what is stored, and the
    // event is applied, not dead-lettered.
    const strict = defineProjection({
      ...ledgerDefinition('unused'),
      evolve: (doc: LedgerDocument | null, event): LedgerDocument => {
        if (!doc && event.streamVersion > 1)
          throw new Error(`credit ${event.streamVersion} without its account`);
        return ledgerDefinition('unused').evolve(doc, event);
      },
    });
    const guessing = new ProjectionWriter(strict, collection, { startedEmpty: true });
    expect(await guessing.write([credit(account, 5, 5)])).toMatchObject({
      applied: 1,
      failures: [],
      conflicts: 1,
    });
    expect(await documents(collection)).toEqual({
      [account]: { account, balance: 15, credits: 5, version: 5 },
    });
  });

  it('concurrent writes of one document, as from two partitions of two topics, lose nothing', async () => {
    // Fifty chunks at once for one account, each from its own stream (as order details gets
    // orders.events and sagas.events): every one must be applied exactly once. FerretDB 1.24's
    // conditional replace is not atomic, so without the writer's serialization some are lost.
    const collection = mongo.db.collection<StoredDocument>(uniqueName('ledger'));
    const writer = new ProjectionWriter(ledgerProjection('unused'), collection);
    const account = uniqueName('acct');
    const chunk = (i: number) => [
      { ...credit(account, 1, 1), streamType: `source-${i}`, eventId: `e-${i}` },
    ];
    await Promise.all(Array.from({ length: 50 }, (_, i) => writer.write(chunk(i))));
    const [doc] = Object.values(await documents(collection));
    expect(doc).toMatchObject({ balance: 50, credits: 50 });
  });

  it('a poison event goes to the DLQ with its reason while later events still project', async () => {
    const topic = await newTopic(1);
    const account = uniqueName('acct');
    const bad = { ...credit(account, 2, 5), data: { account, amount: -5 } };
    await send(topic, [credit(account, 1, 10), bad, 'not json at all', credit(account, 3, 7)]);
    const collection = mongo.db.collection<StoredDocument>(uniqueName('ledger'));
    const groupId = uniqueName('group');
    const runner = await startRunner(topic, collection, groupId);
    await eventually(
      async () => {
        expect(await documents(collection)).toEqual({
          [account]: { account, balance: 17, credits: 2, version: 3 },
        });
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    const dead = await collect(kafka, dlqTopic(topic), (m) => m.length >= 2);
    expect(dead.map((m) => m.headers['dlq-error'])).toEqual([
      'Credited v1 does not match its schema: amount: must be greater than 0',
      'the message is not JSON',
    ]);
    expect(dead.map((m) => m.headers['dlq-consumer'])).toEqual([groupId, groupId]);
    expect(runner.counts().deadLettered).toBe(2);
  });

  it('two instances share the partitions; a rebalance in the middle loses and duplicates nothing', async () => {
    const topic = await newTopic();
    const collection = mongo.db.collection<StoredDocument>(uniqueName('ledger'));
    const groupId = uniqueName('group');
    const first = await startRunner(topic, collection, groupId, 50);
    const second = await startRunner(topic, collection, groupId, 50);
    const credits = ledger(40, 60);
    await send(topic, credits.slice(0, 1_200));
    await eventually(
      () => {
        expect(first.partitions().length + second.partitions().length).toBeGreaterThanOrEqual(6);
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    // Stop one instance while the rest is still being sent and written: its partitions move.
    const sending = send(topic, credits.slice(1_200));
    await second.stop();
    runners.splice(runners.indexOf(second), 1);
    await sending;
    await eventually(
      async () => {
        expect(await documents(collection)).toEqual(expected(credits));
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
  });

  it('SIGKILLed mid-stream and restarted, the collection equals a full rebuild (same checksum)', async () => {
    const child = join(__dirname, '..', 'test-support', 'projection-child.js');
    if (!existsSync(join(__dirname, '..', 'dist', 'testing', 'ledger.projection.js')))
      throw new Error('build first: the crash child runs libs/read-models/dist');
    const topic = await newTopic();
    const credits = ledger(50, 60);
    await send(topic, credits);
    const collectionName = uniqueName('ledger');
    const groupId = uniqueName('group');
    const crashing = spawn(process.execPath, [child], {
      env: {
        ...process.env,
        ...childKafkaEnv(),
        MONGO_URL: mongoConfig().url,
        MONGO_DATABASE: mongo.db.databaseName,
        LEDGER_TOPIC: topic,
        LEDGER_COLLECTION: collectionName,
        LEDGER_GROUP: groupId,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((resolve) => crashing.once('exit', resolve));
    const timer = setTimeout(() => crashing.kill('SIGKILL'), 60_000);
    // Killed after its 10th write: some chunks written, some offsets committed, others not.
    await new Promise<void>((resolve, reject) => {
      crashing.stdout.on('data', (chunk: Buffer) => {
        if (/wrote (1\d|[2-9]\d)/.test(chunk.toString())) resolve();
      });
      crashing.once('exit', (code) => {
        reject(new Error(`projection child exited early (${code})`));
      });
    });
    crashing.kill('SIGKILL');
    await exited;
    clearTimeout(timer);
    const collection = mongo.db.collection<StoredDocument>(collectionName);
    const partial = await collection.countDocuments();
    expect(partial).toBeGreaterThan(0);

    // Restarted in the same group, it resumes from the committed offsets.
    await startRunner(topic, collection, groupId);
    const rebuilt = mongo.db.collection<StoredDocument>(uniqueName('rebuilt'));
    await startRunner(topic, rebuilt, uniqueName('rebuild-group'));
    const want = expected(credits);
    await eventually(
      async () => {
        expect(await documents(collection)).toEqual(want);
        expect(await documents(rebuilt)).toEqual(want);
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(checksum(await documents(collection))).toBe(checksum(await documents(rebuilt)));
  });

  it('a rebuild during live traffic serves queries throughout, switches when caught up, and ends consistent', async () => {
    const topic = await newTopic();
    const { name, host, generation } = await startLedgerHost(topic);
    const reader = new ReadModels(mongo.db, { cacheMs: 200 });
    const prefix = uniqueName('acct');
    const history = ledger(20, 40, prefix);
    await send(topic, history.slice(0, 400));
    const watched = `${prefix}-0`;
    await eventually(
      async () => {
        expect(await reader.get<LedgerDocument>(name, watched)).toMatchObject({ version: 20 });
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );

    // Readers poll all through the rebuild: the document is always there, never older.
    const polling = { on: true };
    let reads = 0;
    const problems: string[] = [];
    const poller = (async () => {
      let last = 0;
      while (polling.on) {
        const doc = await reader.get<LedgerDocument>(name, watched);
        reads++;
        if (!doc) problems.push(`read ${reads}: no document`);
        else if (doc.version < last)
          problems.push(`read ${reads}: version ${doc.version} after ${last}`);
        else last = doc.version;
        await sleep(10);
      }
    })();
    // Two asked at once: one starts, the other is refused. (Asked one after the other, the
    // second could come after a fast first had already caught up and switched: then it is a
    // new rebuild, rightly, and CI once saw exactly that.)
    const [first, second] = await Promise.allSettled([host.rebuild(name), host.rebuild(name)]);
    const started = [first, second].filter((r) => r.status === 'fulfilled');
    const refused = [first, second].filter((r) => r.status === 'rejected');
    expect(started.map((r) => r.value)).toEqual([
      expect.objectContaining({
        generation: 2,
        groupId: `projection.${mongo.db.databaseName}.${name}.g2`,
      }),
    ]);
    expect(refused.map((r) => String(r.reason))).toEqual([
      expect.stringMatching(/already rebuilding \(generation 2\)/),
    ]);
    // Live traffic while it rebuilds.
    for (let i = 400; i < history.length; i += 50) {
      await send(topic, history.slice(i, i + 50));
      await sleep(50);
    }
    await eventually(
      async () => {
        const entry = await host.registry.get(name);
        expect(entry?.active.generation).toBe(2);
        expect(entry?.rebuilding).toBeUndefined();
        expect(entry?.retired ?? []).toEqual([]);
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    polling.on = false;
    await poller;
    expect(problems).toEqual([]);
    expect(reads).toBeGreaterThan(10);
    const active = generation(2);
    await eventually(
      async () => {
        expect(await documents(active)).toEqual(expected(history));
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    // The old generation is gone: its collection dropped.
    const collections = (await mongo.db.listCollections().toArray()).map((c) => c.name);
    expect(collections).not.toContain(generation(1).collectionName);
    const [status] = await host.status();
    expect(status).toMatchObject({
      name,
      status: 'live',
      active: { generation: 2, lagEvents: 0, documents: 20 },
    });
  });

  it('a topic that lost its first events: a rebuild is refused, and one already running is held', async () => {
    const topic = await newTopic(1);
    const { name, host, generation } = await startLedgerHost(topic);
    const history = ledger(3, 4);
    await send(topic, history);
    const live = generation(1);
    await eventually(
      async () => {
        expect(await documents(live)).toEqual(expected(history));
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    // The first 5 events are deleted from the topic: a rebuild would build without them.
    await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '5' }] });
    const refused = await host.rebuild(name).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TopicTruncatedError);
    expect((refused as Error).message).toContain(
      `${topic} partition 0 starts at offset 5: its first events are gone from the topic`,
    );
    expect((await host.registry.get(name))?.rebuilding).toBeUndefined();

    // A rebuild that was already running when the topic lost them (started in the registry, as
    // a rebuild asked before the deletion was): it catches up, and is held instead of switching.
    await host.registry.startRebuild(name);
    const [held] = await eventually(
      async () => {
        const statuses = await host.status();
        expect(statuses[0]?.rebuilding?.held).toMatch(
          new RegExp(`${topic} partition 0 starts at offset 5: .* readers stay on generation 1`),
        );
        return statuses;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(held).toMatchObject({ status: 'rebuilding', active: { generation: 1 } });
    expect(held?.rebuilding).toMatchObject({ generation: 2, lagEvents: 0 });
    await sleep(1_000);
    expect((await host.registry.get(name))?.active.generation).toBe(1);
    // Readers still see every event, from the live generation.
    expect(await documents(live)).toEqual(expected(history));
  });

  it('a topic that lost its first events, put back by a republish: the rebuild starts there, folds the copies first, and switches exact', async () => {
    const topic = await newTopic(2);
    const { name, host, generation } = await startLedgerHost(topic);
    const history = ledger(4, 4);
    const ids = [...new Set(history.map((c) => c.streamId))];
    const byVersion = (v: number) => ids.map((id) => credit(id, v, v * 10));
    await send(topic, history);
    const live = generation(1);
    await eventually(
      async () => {
        expect(await documents(live)).toEqual(expected(history));
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    // Every event so far is deleted from the topic: the live generation still has them.
    const ends = async () =>
      Object.fromEntries(
        (await admin.fetchTopicOffsets(topic)).map((p) => [String(p.partition), p.high]),
      );
    const deleted = await ends();
    await admin.deleteTopicRecords({
      topic,
      partitions: Object.entries(deleted).map(([partition, offset]) => ({
        partition: Number(partition),
        offset,
      })),
    });
    // A republish of the store, as its service runs it, the worst way round: version 5 of each
    // stream (committed while the republish ran, which then copied it) and version 6 (committed
    // after the republish read its stream: no copy) are published ahead of the copies of 1-5.
    const republishId = uniqueName('republish');
    const from = await ends();
    await send(topic, byVersion(5));
    await send(topic, byVersion(6));
    await send(topic, [...history, ...byVersion(5)], { [REPUBLISH_ID_HEADER]: republishId });
    const to = await ends();
    await send(topic, byVersion(7)); // after the republish completed
    await publishRepublishMarkers(kafka, [
      { topic, republishId, service: 'test', from, to, completedAt: new Date().toISOString() },
    ]);
    const all = [...history, ...byVersion(5), ...byVersion(6), ...byVersion(7)];

    const rebuilt = await host.rebuild(name);
    expect(rebuilt.generation).toBe(2);
    const entry = await host.registry.get(name);
    expect(entry?.rebuilding?.republished).toEqual([
      {
        topic,
        republishId,
        partitions: Object.keys(from).map((p) => ({
          partition: Number(p),
          from: from[p],
          to: to[p],
        })),
      },
    ]);
    await eventually(
      async () => {
        expect((await host.registry.get(name))?.active.generation).toBe(2);
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    const g2 = generation(2);
    expect(await documents(g2)).toEqual(expected(all));
    // Its first pass's consumer group is gone once it ended.
    await eventually(
      async () => {
        const { groups } = await admin.listGroups();
        expect(groups.map((g) => g.groupId)).not.toContain(`${rebuilt.groupId}.prelude`);
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );

    // A republish that began before what was lost (its own first copies gone too) covers nothing.
    await admin.deleteTopicRecords({
      topic,
      partitions: Object.entries(to).map(([partition, offset]) => ({
        partition: Number(partition),
        offset,
      })),
    });
    const refused = await host.rebuild(name).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TopicTruncatedError);
    expect((refused as Error).message).toMatch(
      new RegExp(
        `the latest republish of ${topic} \\(${republishId}\\) does not cover it: partition \\d lost its copies too`,
      ),
    );
  });

  it('read-your-writes: a read given a token waits until the document reached it, else fails clearly', async () => {
    const topic = await newTopic(1);
    const collectionName = 'ryw_g1';
    const db = mongo.client.db(uniqueName('ryw'));
    const collection = db.collection<StoredDocument>(collectionName);
    const reader = new ReadModels(db);
    const account = uniqueName('acct');
    await send(topic, [credit(account, 1, 5)]);
    await startRunner(topic, collection, uniqueName('group'));
    // Version 2 is sent a little after the read starts waiting for it.
    const late = sleep(300).then(() => send(topic, [credit(account, 2, 6)]));
    const doc = await reader.get<LedgerDocument>('ryw', account, {
      consistentWith: { stream: { type: 'ledger', id: account }, version: 2 },
      timeoutMs: 10_000,
    });
    await late;
    expect(doc).toEqual({ account, balance: 11, credits: 2, version: 2 });
    const error = await reader
      .get('ryw', account, {
        consistentWith: { stream: { type: 'ledger', id: account }, version: 3 },
        timeoutMs: 300,
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotYetConsistentError);
    // The time waited, about the bound: a 300 ms timer measured with Date.now() can read 299.
    expect((error as NotYetConsistentError).message).toMatch(
      new RegExp(
        `the ryw read model has not reached ledger/${account}@3 within (29\\d|3\\d\\d) ms \\(it has seen version 2\\)`,
      ),
    );
    await db.dropDatabase();
  });
});
