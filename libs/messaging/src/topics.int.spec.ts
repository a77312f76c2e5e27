// Topic creation on the real broker: event topics keep every message (a projection rebuild
// replays them from the beginning), the others keep Kafka's default retention.
import { ConfigResourceTypes, type Admin } from 'kafkajs';
import { testKafka, uniqueName } from '@es/testing';
import { dlqTopic, ensureTopics } from './topics';

describe('ensureTopics (real Kafka)', () => {
  let admin: Admin;

  beforeAll(async () => {
    admin = testKafka('topics-int').admin();
    await admin.connect();
  });
  afterAll(async () => {
    await admin.disconnect();
  });

  /** The topic's own retention settings: its override's value, or 'broker default'. */
  async function retentionOf(topic: string): Promise<{ ms: string; bytes: string }> {
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: topic,
          configNames: ['retention.ms', 'retention.bytes'],
        },
      ],
    });
    const entries = resources[0]?.configEntries ?? [];
    const value = (name: string) => {
      const entry = entries.find((e) => e.configName === name);
      return !entry || entry.isDefault ? 'broker default' : entry.configValue;
    };
    return { ms: value('retention.ms'), bytes: value('retention.bytes') };
  }

  it('creates event topics that keep every message, and the others with the broker default', async () => {
    const context = uniqueName('ctx');
    const events = `${context}.events`;
    const commands = `${context}.commands`;
    await ensureTopics(admin, [events, commands]);
    expect(await retentionOf(events)).toEqual({ ms: '-1', bytes: '-1' });
    for (const other of [commands, dlqTopic(events), dlqTopic(commands)])
      expect({ other, ...(await retentionOf(other)) }).toEqual({
        other,
        ms: 'broker default',
        bytes: 'broker default',
      });
    // Idempotent: a second call changes nothing and does not fail.
    await ensureTopics(admin, [events, commands]);
    expect(await retentionOf(events)).toEqual({ ms: '-1', bytes: '-1' });
  });
});
