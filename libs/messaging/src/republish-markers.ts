// Where a completed republish says what it covers (docs/decisions.md, Rebuild): one message per
// topic it put back whole, on a topic of their own that keeps every message. A rebuild of a
// projection whose topic lost its first events reads the latest marker of that topic: every
// event its store held is in the topic again from the marker's `from` offsets on (the copies
// carry the header `republish-id`), and all of those copies are before its `to` offsets.
import type { Kafka } from 'kafkajs';
import { z } from '@es/schema';
import { sendWhole, wholeBatchProducer } from './kafka-publisher';
import { readTopic } from './read-topic';
import { ensureTopics } from './topics';

/** Named like an event topic, so it is created, and verified, to keep every message. */
export const REPUBLISH_MARKERS_TOPIC = 'republishes.events';
/** The header a republished copy carries: the id of the republish that wrote it. */
export const REPUBLISH_ID_HEADER = 'republish-id';

const offsets = z.record(z.string().regex(/^\d+$/), z.string().regex(/^\d+$/));

export const republishMarkerSchema = z.strictObject({
  topic: z.string().min(1),
  republishId: z.string().min(1),
  /** The service whose store was republished. */
  service: z.string().min(1),
  /** Per partition, the end offset before the republish wrote anything: its copies are after. */
  from: offsets,
  /** Per partition, the end offset once every copy was in the topic: its copies are before. */
  to: offsets,
  completedAt: z.string(),
});
export type RepublishMarker = z.output<typeof republishMarkerSchema>;

/** Writes the markers of a completed republish (acks from every in-sync replica). */
export async function publishRepublishMarkers(
  kafka: Kafka,
  markers: readonly RepublishMarker[],
): Promise<void> {
  if (markers.length === 0) return;
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, [REPUBLISH_MARKERS_TOPIC], { partitions: 1, withDeadLetters: false });
  } finally {
    await admin.disconnect();
  }
  const producer = wholeBatchProducer(kafka);
  await producer.connect();
  try {
    await sendWhole(producer, [
      {
        topic: REPUBLISH_MARKERS_TOPIC,
        messages: markers.map((m) => ({ key: m.topic, value: JSON.stringify(m) })),
      },
    ]);
  } finally {
    await producer.disconnect();
  }
}

/** The latest marker of each topic (a message that is not a marker is passed over). */
export async function latestRepublishMarkers(kafka: Kafka): Promise<Map<string, RepublishMarker>> {
  const latest = new Map<string, RepublishMarker>();
  await readTopic(
    kafka,
    REPUBLISH_MARKERS_TOPIC,
    (message) => {
      let json: unknown;
      try {
        json = JSON.parse(message.value?.toString() ?? '');
      } catch {
        return;
      }
      const marker = republishMarkerSchema.safeParse(json);
      if (marker.success) latest.set(marker.data.topic, marker.data);
    },
    { timeoutMs: 30_000 },
  );
  return latest;
}
