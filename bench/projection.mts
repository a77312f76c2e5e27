// The read side on the real engines (Kafka, and the MongoDB wire server the stack runs):
// 1. live: the order-details projection (the real one, apps/projection-service) consuming events
//    produced open-loop at BENCH_RATE per second (an order's OrderCreated, then its OrderApproved
//    BENCH_GAP_MS later): events/s applied, and Kafka-to-document latency per event, from just
//    before the producer's send to the end of the bulkWrite that made the document reflect it
//    (one clock, this process);
// 2. rebuild: a fresh generation (new group, empty collection) replaying BENCH_REBUILD events
//    from a topic holding them all, with the same runner: events/s;
// 3. the ceiling: the same final documents inserted by plain unordered bulkWrites of 1,000,
//    without reading, folding or guarding: documents/s (and events/s at 2 events a document).
import { Kafka, Partitioners, logLevel, type Producer } from 'kafkajs';
import { MongoClient, type Collection } from 'mongodb';
import { ProjectionRunner, type Projection, type StoredDocument } from '@es/read-models';
import { kafkaConfig, mongoConfig } from '@es/runtime-config';
import { orderDetails } from '@es/projections';
import { machine, ms, percentile, writeSection } from './lib.mts';

const rate = Number(process.env['BENCH_RATE'] ?? 2_000);
const seconds = Number(process.env['BENCH_SECONDS'] ?? 20);
const gapMs = Number(process.env['BENCH_GAP_MS'] ?? 200);
const rebuildEvents = Number(process.env['BENCH_REBUILD'] ?? 1_000_000);
const run = Date.now().toString(36);

const kafka = new Kafka({
  clientId: 'bench-projection',
  brokers: [...kafkaConfig('bench').brokers],
  logLevel: logLevel.ERROR,
});
const admin = kafka.admin();
await admin.connect();
const producer = kafka.producer({
  idempotent: true,
  maxInFlightRequests: 1,
  createPartitioner: Partitioners.DefaultPartitioner,
});
await producer.connect();
const mongo = await new MongoClient(mongoConfig().url).connect();
const db = mongo.db(`bench_projection_${run}`);

const at = '2026-11-23T10:00:00.000Z';
function created(orderId: string, position: number) {
  return envelope(orderId, 1, position, 'OrderCreated', {
    orderId,
    customerId: `cust-${orderId.slice(-3)}`,
    items: [
      { sku: 'SKU-1', quantity: 2, unitPrice: 1_250 },
      { sku: 'SKU-2', quantity: 1, unitPrice: 990 },
    ],
    total: 3_490,
    createdAt: at,
  });
}
function approved(orderId: string, position: number) {
  return envelope(orderId, 2, position, 'OrderApproved', { orderId, approvedAt: at });
}
function envelope(orderId: string, version: number, position: number, type: string, data: object) {
  return {
    eventId: `${orderId}-${version}`,
    type,
    schemaVersion: 1,
    streamType: 'order',
    streamId: orderId,
    streamVersion: version,
    globalPosition: String(position),
    recordedAt: new Date().toISOString(),
    data,
    metadata: { correlationId: orderId },
  };
}

async function topic(name: string): Promise<string> {
  await admin.createTopics({
    topics: [
      { topic: name, numPartitions: 6, replicationFactor: 1 },
      { topic: `${name}.dlq`, numPartitions: 1, replicationFactor: 1 },
    ],
    waitForLeaders: true,
  });
  return name;
}

async function send(p: Producer, name: string, events: readonly ReturnType<typeof envelope>[]) {
  await p.send({
    topic: name,
    acks: -1,
    messages: events.map((e) => ({ key: e.streamId, value: JSON.stringify(e) })),
  });
}

/** The projection reading `name` instead of orders.events. */
const on = (name: string): Projection => ({ ...(orderDetails as Projection), topics: [name] });

// 1. Live.
const liveTopic = await topic(`bench.projection.live.${run}`);
const sentAt = new Map<string, number>(); // eventId -> ms
const latencies: number[] = [];
const liveCollection = db.collection<StoredDocument>('live');
const observed = new Proxy(liveCollection, {
  get(target, property, receiver) {
    if (property !== 'bulkWrite') return Reflect.get(target, property, receiver) as unknown;
    return async (...args: Parameters<Collection<StoredDocument>['bulkWrite']>) => {
      const result = await target.bulkWrite(...args);
      const done = performance.now();
      for (const op of args[0]) {
        const doc =
          'insertOne' in op
            ? op.insertOne.document
            : 'replaceOne' in op
              ? op.replaceOne.replacement
              : undefined;
        if (!doc) continue;
        const id = String(doc['orderId']);
        for (let v = 1; v <= Number(doc['version']); v++) {
          const sent = sentAt.get(`${id}-${v}`);
          if (sent === undefined) continue;
          latencies.push(done - sent);
          sentAt.delete(`${id}-${v}`);
        }
      }
      return result;
    };
  },
});
const live = new ProjectionRunner({
  kafka,
  projection: on(liveTopic),
  collection: observed,
  groupId: `bench.live.${run}`,
  generation: 1,
});
await live.start();
await new Promise((resolve) => setTimeout(resolve, 3_000)); // joined and assigned

let position = 0;
let produced = 0;
const tickMs = 20;
const perTick = (rate / 2) * (tickMs / 1000); // orders per tick: two events each
const started = performance.now();
const sends: Promise<void>[] = [];
for (let tick = 0; performance.now() - started < seconds * 1000; tick++) {
  const batch: ReturnType<typeof envelope>[] = [];
  for (let i = 0; i < perTick; i++) batch.push(created(`o-${run}-${tick}-${i}`, ++position));
  for (const e of batch) sentAt.set(e.eventId, performance.now());
  sends.push(send(producer, liveTopic, batch));
  const later = batch.map((e) => e.streamId);
  setTimeout(() => {
    const approvals = later.map((id) => approved(id, ++position));
    for (const e of approvals) sentAt.set(e.eventId, performance.now());
    sends.push(send(producer, liveTopic, approvals));
  }, gapMs);
  produced += batch.length * 2;
  const next = started + (tick + 1) * tickMs;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - performance.now())));
}
await new Promise((resolve) => setTimeout(resolve, gapMs + 50));
await Promise.all(sends);
const drainStarted = performance.now();
while (live.counts().applied < produced && performance.now() - drainStarted < 60_000)
  await new Promise((resolve) => setTimeout(resolve, 50));
const liveSeconds = (performance.now() - started) / 1000;
await live.stop();
const liveApplied = live.counts().applied;
latencies.sort((a, b) => a - b);

// 2. Rebuild from a topic holding every event: orders written as they would be, created then
// approved, interleaved in batches of 1,000 orders.
const rebuildTopic = await topic(`bench.projection.rebuild.${run}`);
const orders = rebuildEvents / 2;
const fillStarted = performance.now();
for (let first = 0; first < orders; first += 1_000) {
  const ids = Array.from({ length: Math.min(1_000, orders - first) }, (_, i) => `r-${first + i}`);
  await send(producer, rebuildTopic, [
    ...ids.map((id) => created(id, ++position)),
    ...ids.map((id) => approved(id, ++position)),
  ]);
}
const fillSeconds = (performance.now() - fillStarted) / 1000;
const rebuilt = new ProjectionRunner({
  kafka,
  projection: on(rebuildTopic),
  collection: db.collection<StoredDocument>('rebuilt'),
  groupId: `bench.rebuild.${run}`,
  generation: 2,
});
const rebuildStarted = performance.now();
await rebuilt.start();
while (rebuilt.counts().applied + rebuilt.counts().duplicates < rebuildEvents)
  await new Promise((resolve) => setTimeout(resolve, 100));
const rebuildSeconds = (performance.now() - rebuildStarted) / 1000;
await rebuilt.stop();
const rebuiltDocuments = await db.collection('rebuilt').countDocuments();

// 3. The ceiling: the same documents, inserted as they are, 1,000 a bulkWrite.
const sample = (await db.collection<StoredDocument>('rebuilt').findOne({})) as StoredDocument;
const raw = db.collection<StoredDocument>('raw');
const rawStarted = performance.now();
for (let first = 0; first < orders; first += 1_000) {
  const count = Math.min(1_000, orders - first);
  await raw.bulkWrite(
    Array.from({ length: count }, (_, i) => ({
      insertOne: { document: { ...sample, _id: `r-${first + i}`, orderId: `r-${first + i}` } },
    })),
    { ordered: false },
  );
}
const rawSeconds = (performance.now() - rawStarted) / 1000;

await producer.disconnect();
await admin.deleteTopics({
  topics: [liveTopic, `${liveTopic}.dlq`, rebuildTopic, `${rebuildTopic}.dlq`],
});
await admin.disconnect();
const engine = (await mongo.db('admin').command({ buildInfo: 1 })) as {
  version: string;
  ferretdbVersion?: string;
};
await db.dropDatabase();
await mongo.close();

const rebuildRate = rebuildEvents / rebuildSeconds;
const rawDocsRate = orders / rawSeconds;
const lines = [
  `### Read models: live projection and rebuild (${new Date().toISOString().slice(0, 10)})`,
  '',
  `Machine: ${machine()}; ${engine.ferretdbVersion ? `FerretDB ${engine.ferretdbVersion} (SQLite backend)` : `MongoDB ${engine.version}`}; Kafka 3.9, 6 partitions.`,
  `Command: \`BENCH_RATE=${rate} BENCH_SECONDS=${seconds} BENCH_REBUILD=${rebuildEvents} npm run bench -- projection\` (bench/projection.mts).`,
  'The real order-details projection and ProjectionRunner (chunks of 500 events: one find by `_id $in`, one unordered bulkWrite).',
  '',
  '| measure | figure | target |',
  '| --- | --- | --- |',
  `| live: offered | ${rate} events/s for ${seconds} s (${produced} events; OrderCreated, OrderApproved ${gapMs} ms later) | |`,
  `| live: applied | ${Math.round(liveApplied / liveSeconds)} events/s (${liveApplied}/${produced} in ${liveSeconds.toFixed(1)} s) | ≥ 2,000 events/s |`,
  `| live: Kafka-to-document p50 / p99 / max | ${ms(percentile(latencies, 50))} / ${ms(percentile(latencies, 99))} / ${ms(latencies.at(-1) ?? Number.NaN)} ms (${latencies.length} events) | p99 < 50 ms |`,
  `| rebuild: ${rebuildEvents.toLocaleString('en')} events (${rebuiltDocuments.toLocaleString('en')} documents) | ${Math.round(rebuildRate).toLocaleString('en')} events/s, ${rebuildSeconds.toFixed(1)} s | ≥ 10,000 events/s, < 120 s |`,
  `| ceiling: raw bulkWrite of the same documents | ${Math.round(rawDocsRate).toLocaleString('en')} documents/s = ${Math.round(rawDocsRate * 2).toLocaleString('en')} events/s at 2 events a document | |`,
  `| rebuild / ceiling | ${(rebuildRate / (rawDocsRate * 2)).toFixed(2)} | |`,
  '',
  `Filling the rebuild topic took ${fillSeconds.toFixed(1)} s (not counted).`,
];
console.log(lines.join('\n'));
writeSection('projection', lines.join('\n'));
