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
import { Partitioners, type Producer } from 'kafkajs';
import { MongoClient, type Collection } from 'mongodb';
import { ProjectionRunner, type Projection, type StoredDocument } from '@es/read-models';
import { kafkaConfig, mongoConfig } from '@es/runtime-config';
import { kafkaFor } from '@es/testing';
import { orderDetails } from '@es/projections';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { machine, ms, percentile, root, writeSection } from './lib.mts';

/** The FerretDB release the local stack builds (its embedded build reports no version). */
const ferretVersion = () =>
  /github\.com\/FerretDB\/FerretDB (v[0-9.]+)/.exec(
    readFileSync(join(root, 'infra', 'ferretdb', 'go.mod'), 'utf8'),
  )?.[1] ?? 'unknown';

// The target rate last; the lower ones show where latency starts to climb.
const rates = (process.env['BENCH_RATES'] ?? '250,1000,2000').split(',').map(Number);
const seconds = Number(process.env['BENCH_SECONDS'] ?? 20);
const gapMs = Number(process.env['BENCH_GAP_MS'] ?? 200);
const rebuildEvents = Number(process.env['BENCH_REBUILD'] ?? 1_000_000);
const run = Date.now().toString(36);
// The runner's defaults unless set (chunk 2,000 events, 3 partitions at a time).
const tuning = {
  ...(process.env['BENCH_CHUNK'] ? { chunkSize: Number(process.env['BENCH_CHUNK']) } : {}),
  ...(process.env['BENCH_CONCURRENCY']
    ? { partitionsConsumedConcurrently: Number(process.env['BENCH_CONCURRENCY']) }
    : {}),
};

const kafka = kafkaFor(kafkaConfig('bench-projection'));
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

// 1. Live, at each offered rate in turn (a fresh topic, collection and group each).
let position = 0;
// Deleted at the end: the shared producer keeps asking for the metadata of topics it wrote to.
const createdTopics: string[] = [];
async function liveRun(rate: number) {
  const liveTopic = await topic(`bench.projection.live.${run}.${rate}`);
  const sentAt = new Map<string, number>(); // eventId -> ms
  const latencies: number[] = [];
  const appliedAt: number[] = []; // when each event's document was written, ms
  const observed = new Proxy(db.collection<StoredDocument>(`live_${rate}`), {
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
            appliedAt.push(done);
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
    groupId: `bench.live.${run}.${rate}`,
    generation: 1,
    ...tuning,
  });
  await live.start();
  await new Promise((resolve) => setTimeout(resolve, 3_000)); // joined and assigned

  let produced = 0;
  let owed = 0;
  const tickMs = 20;
  const started = performance.now();
  const sends: Promise<void>[] = [];
  for (let tick = 0; performance.now() - started < seconds * 1000; tick++) {
    owed += (rate / 2) * (tickMs / 1000); // orders this tick: two events each
    const batch: ReturnType<typeof envelope>[] = [];
    for (; owed >= 1; owed--)
      batch.push(created(`o-${run}-${rate}-${tick}-${batch.length}`, ++position));
    for (const e of batch) sentAt.set(e.eventId, performance.now());
    if (batch.length > 0) sends.push(send(producer, liveTopic, batch));
    const later = batch.map((e) => e.streamId);
    setTimeout(() => {
      const approvals = later.map((id) => approved(id, ++position));
      for (const e of approvals) sentAt.set(e.eventId, performance.now());
      if (approvals.length > 0) sends.push(send(producer, liveTopic, approvals));
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
  const elapsed = (performance.now() - started) / 1000;
  await live.stop();
  createdTopics.push(liveTopic, `${liveTopic}.dlq`);
  latencies.sort((a, b) => a - b);
  // The applied rate in the steady part of the load, 2 s after the start to 1 s before its end:
  // dividing every event by the whole run would count the last approvals' gap and the drain.
  const from = started + 2_000;
  const to = started + (seconds - 1) * 1000;
  const steady = appliedAt.filter((t) => t >= from && t < to).length / ((to - from) / 1000);
  return { rate, produced, applied: live.counts().applied, elapsed, latencies, steady };
}
const lives = [];
for (const rate of rates) lives.push(await liveRun(rate));

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
  ...tuning,
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
  topics: [...createdTopics, rebuildTopic, `${rebuildTopic}.dlq`],
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
  `Machine: ${machine()}; ${engine.ferretdbVersion !== undefined ? `FerretDB ${ferretVersion()} (patched, SQLite backend, synchronous=NORMAL)` : `MongoDB ${engine.version}`}; Kafka 3.9, 6 partitions.`,
  `Command: \`BENCH_RATES=${rates.join(',')} BENCH_SECONDS=${seconds} BENCH_REBUILD=${rebuildEvents} npm run bench -- projection\` (bench/projection.mts). Live: an order's OrderCreated, then its OrderApproved ${gapMs} ms later; latency from just before the producer's send to the end of the bulkWrite that made the document reflect the event.`,
  `The real order-details projection and ProjectionRunner (${tuning.chunkSize ?? 2_000} events a chunk, ${tuning.partitionsConsumedConcurrently ?? 3} partitions at a time; a chunk is at most one find by \`_id $in\` and one unordered bulkWrite).`,
  '',
  '| measure | figure | target |',
  '| --- | --- | --- |',
  ...lives.map(
    (l) =>
      `| live at ${l.rate} events/s offered (${l.produced} events in ${seconds} s) | applied ${Math.round(l.steady)} events/s from 2 s to ${seconds - 1} s; ${l.applied}/${l.produced} in all, ${Math.round(l.applied / l.elapsed)}/s over the whole run; Kafka-to-document p50 / p99 / max ${ms(percentile(l.latencies, 50))} / ${ms(percentile(l.latencies, 99))} / ${ms(l.latencies.at(-1) ?? Number.NaN)} ms | ${l.rate >= 2_000 ? '≥ 2,000 events/s, p99 < 50 ms' : ''} |`,
  ),
  `| rebuild: ${rebuildEvents.toLocaleString('en')} events (${rebuiltDocuments.toLocaleString('en')} documents) | ${Math.round(rebuildRate).toLocaleString('en')} events/s, ${rebuildSeconds.toFixed(1)} s | ≥ 10,000 events/s, < 120 s |`,
  `| ceiling: raw bulkWrite of the same documents | ${Math.round(rawDocsRate).toLocaleString('en')} documents/s = ${Math.round(rawDocsRate * 2).toLocaleString('en')} events/s at 2 events a document | |`,
  `| rebuild / ceiling | ${(rebuildRate / (rawDocsRate * 2)).toFixed(2)} | |`,
  '',
  `Filling the rebuild topic took ${fillSeconds.toFixed(1)} s (not counted).`,
];
console.log(lines.join('\n'));
await writeSection('projection', lines.join('\n'));
