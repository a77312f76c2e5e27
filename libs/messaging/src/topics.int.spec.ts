// Topic creation on the real broker: event topics keep every message (a projection rebuild
// replays them from the beginning), the others keep Kafka's default retention; a topic that
// exists with settings that would lose messages is refused, each setting named.
import { ConfigResourceTypes, type Admin } from 'kafkajs';
import { testKafka, uniqueName } from '@es/testing';
import { TopicSettingsError, dlqTopic, ensureTopics } from './topics';

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
  it('refuses an existing topic that would lose messages, naming each setting', async () => {
    const context = uniqueName('bad');
    const [shortLived, compacted, fewer] = [
      `${context}.events`,
      `${context}-c.events`,
      `${context}.commands`,
    ];
    // As someone might create them by hand, or a broker with its defaults.
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic: shortLived,
          numPartitions: 6,
          configEntries: [{ name: 'retention.ms', value: '3600000' }],
        },
        {
          topic: compacted,
          numPartitions: 6,
          configEntries: [
            { name: 'cleanup.policy', value: 'compact' },
            { name: 'retention.ms', value: '-1' },
            { name: 'retention.bytes', value: '-1' },
          ],
        },
        { topic: fewer, numPartitions: 3 },
      ],
    });
    const refused = await ensureTopics(admin, [shortLived, compacted, fewer]).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(TopicSettingsError);
    expect((refused as TopicSettingsError).problems).toEqual([
      `${shortLived}: retention.ms is 3600000, an event topic keeps every event (-1)`,
      `${compacted}: cleanup.policy is compact, not delete (compaction drops events)`,
      `${fewer}: 3 partitions, not 6 (keys would move)`,
    ]);
    // Nothing was changed on them: they are refused, not repaired behind anyone's back.
    expect(await retentionOf(shortLived)).toEqual({ ms: '3600000', bytes: 'broker default' });
  });

  it('refuses a topic with fewer copies than the cluster is asked to keep', async () => {
    const topic = `${uniqueName('rf')}.commands`;
    await ensureTopics(admin, [topic]); // one copy: all a single broker has
    await expect(ensureTopics(admin, [topic], { replicationFactor: 3 })).rejects.toThrow(
      `${topic}: replication factor 1, at least 3 wanted`,
    );
  });
});
