// Any service (here a minimal one beside the order service) whose topic exists with settings that would lose events refuses to start, naming
// the setting (real Kafka and PostgreSQL): the topic is created by hand with one hour of
// retention, as someone might, or a broker creating it with its defaults.
import { Module } from '@nestjs/common';
import { platformOperations } from '@es/http-api';
import { testKafka, createTestDatabase, uniqueName, type TestDatabase } from '@es/testing';
import { EventSourcingModule, PlatformModule } from '@es/service-runtime';
import { startTestService } from '@es/service-testing';

describe('a service and the settings of its topics (real Kafka)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('topic_guard');
  });
  afterAll(async () => {
    await db.drop();
  });

  it('refuses to start on an event topic that deletes its events after an hour', async () => {
    const topic = `${uniqueName('guarded')}.events`;
    const admin = testKafka('topic-guard').admin();
    await admin.connect();
    try {
      await admin.createTopics({
        waitForLeaders: true,
        topics: [
          { topic, numPartitions: 6, configEntries: [{ name: 'retention.ms', value: '3600000' }] },
        ],
      });
    } finally {
      await admin.disconnect();
    }
    @Module({
      imports: [
        PlatformModule.forRoot({
          serviceName: 'topic-guard',
          postgres: { database: db.name },
          kafka: true,
        }),
        EventSourcingModule.forRoot({ schemas: [], topics: [topic], streams: [] }),
      ],
    })
    class GuardedModule {}
    const api = {
      name: 'topic-guard',
      title: 'Topic guard',
      description: 'A service owning one topic',
      defaultPort: 0,
      operations: platformOperations,
    };
    await expect(startTestService(api, GuardedModule, db.name)).rejects.toThrow(
      `${topic}: retention.ms is 3600000, an event topic keeps every event (-1)`,
    );
  });
});
