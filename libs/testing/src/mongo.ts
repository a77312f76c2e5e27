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

/**
 * Every document of every collection of a database on the MongoDB-wire server, as JSON text
 * (a collection's documents one a line, after its name): what a search for a value in the
 * read models reads.
 */
export async function dumpMongoDatabase(database: string): Promise<string> {
  loadStackEnv();
  const client = new MongoClient(mongoConfig().url, { serverSelectionTimeoutMS: 5_000 });
  try {
    const db = client.db(database);
    const lines: string[] = [];
    for (const { name } of await db.listCollections({}, { nameOnly: true }).toArray()) {
      lines.push(`# ${name}`);
      for await (const doc of db.collection(name).find({})) lines.push(JSON.stringify(doc));
    }
    return lines.join('\n');
  } finally {
    await client.close();
  }
}
