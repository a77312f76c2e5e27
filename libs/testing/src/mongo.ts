import { MongoClient, type Db } from 'mongodb';
import { mongoConfig } from '@es/runtime-config';
import { uniqueName } from './eventually';
import { loadStackEnv } from './stack';

export interface TestMongo {
  readonly client: MongoClient;
  readonly db: Db;
  drop(): Promise<void>;
}

/** A client and a fresh database on the MongoDB-wire server, dropped by drop(). */
export async function createTestMongo(prefix = 'test'): Promise<TestMongo> {
  loadStackEnv();
  const client = new MongoClient(mongoConfig().url, { serverSelectionTimeoutMS: 5_000 });
  await client.connect();
  const db = client.db(uniqueName(prefix));
  return {
    client,
    db,
    drop: async () => {
      try {
        await db.dropDatabase();
      } finally {
        await client.close();
      }
    },
  };
}
