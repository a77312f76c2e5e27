// The MongoDB-wire server (FerretDB locally, MongoDB 7 in compose) supports what the read
// models rely on: version-guarded upserts, unique indexes, unordered bulk writes.
import {
  MongoBulkWriteError,
  MongoServerError,
  type AnyBulkWriteOperation,
  type Collection,
} from 'mongodb';
import { createTestMongo, type TestMongo } from '../mongo';

interface OrderDoc {
  _id: string;
  version: number;
  status: string;
}

const DUPLICATE_KEY = 11000;

/** Applies the document only if it is newer than what is stored; a stale write changes nothing. */
function guardedUpsert(doc: OrderDoc): AnyBulkWriteOperation<OrderDoc> {
  return {
    updateOne: {
      filter: { _id: doc._id, version: { $lt: doc.version } },
      update: { $set: { version: doc.version, status: doc.status } },
      upsert: true,
    },
  };
}

async function applyGuarded(
  collection: Collection<OrderDoc>,
  doc: OrderDoc,
): Promise<'applied' | 'stale'> {
  try {
    await collection.updateOne(
      { _id: doc._id, version: { $lt: doc.version } },
      { $set: { version: doc.version, status: doc.status } },
      { upsert: true },
    );
    return 'applied';
  } catch (error) {
    // The filter missed because a newer (or equal) version is stored, so the upsert tried to
    // insert an existing _id.
    if (error instanceof MongoServerError && error.code === DUPLICATE_KEY) return 'stale';
    throw error;
  }
}

describe('MongoDB wire protocol (local stack)', () => {
  let mongo: TestMongo;

  beforeAll(async () => {
    mongo = await createTestMongo('stack_int');
  });
  afterAll(async () => {
    await mongo.drop();
  });

  it('answers a ping and reports a wire version the driver accepts', async () => {
    const hello = await mongo.db.admin().command({ hello: 1 });
    expect(hello['ok']).toBe(1);
    expect(hello['maxWireVersion']).toBeGreaterThanOrEqual(17);
  });

  it('never moves a document backwards: a replayed or older version is ignored', async () => {
    const orders = mongo.db.collection<OrderDoc>('orders_guarded');
    expect(await applyGuarded(orders, { _id: 'o-1', version: 1, status: 'PENDING' })).toBe(
      'applied',
    );
    expect(await applyGuarded(orders, { _id: 'o-1', version: 3, status: 'CONFIRMED' })).toBe(
      'applied',
    );
    expect(await applyGuarded(orders, { _id: 'o-1', version: 2, status: 'PENDING' })).toBe('stale');
    expect(await applyGuarded(orders, { _id: 'o-1', version: 3, status: 'CONFIRMED' })).toBe(
      'stale',
    );
    expect(await orders.findOne({ _id: 'o-1' })).toEqual({
      _id: 'o-1',
      version: 3,
      status: 'CONFIRMED',
    });
  });

  it('enforces a unique index', async () => {
    const stock = mongo.db.collection<{ sku: string; onHand: number }>('stock_unique');
    await stock.createIndex({ sku: 1 }, { unique: true });
    await stock.insertOne({ sku: 'SKU-1', onHand: 5 });
    await expect(stock.insertOne({ sku: 'SKU-1', onHand: 7 })).rejects.toMatchObject({
      code: DUPLICATE_KEY,
    });
    expect(await stock.countDocuments({ sku: 'SKU-1' })).toBe(1);
  });

  it('on an unordered bulk write with a stale upsert: MongoDB goes on, FerretDB 1.24 stops at the error', async () => {
    const orders = mongo.db.collection<OrderDoc>('orders_bulk_divergence');
    await orders.insertOne({ _id: 'a', version: 2, status: 'CONFIRMED' });
    const error = await orders
      .bulkWrite(
        [
          guardedUpsert({ _id: 'a', version: 1, status: 'PENDING' }), // stale: duplicate _id on upsert
          guardedUpsert({ _id: 'b', version: 1, status: 'PENDING' }), // new
        ],
        { ordered: false },
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(MongoBulkWriteError);
    expect((error as MongoBulkWriteError).code).toBe(DUPLICATE_KEY);
    // This is why read models must not rely on an unordered batch continuing past an error
    // (docs/engines.md): on FerretDB the rest of the batch is silently not applied.
    const appliedB = (await orders.countDocuments({ _id: 'b' })) === 1;
    expect(appliedB).toBe(!(await isFerretDb()));
  });

  it('applies a version-guarded batch on both engines when stale writes cannot raise errors', async () => {
    // The portable pattern: look up which ids exist, guard updates of those by version (a stale
    // one matches nothing, without an error), insert the rest.
    const orders = mongo.db.collection<OrderDoc>('orders_bulk');
    await orders.insertMany([
      { _id: 'a', version: 2, status: 'CONFIRMED' },
      { _id: 'b', version: 1, status: 'PENDING' },
    ]);
    const batch: OrderDoc[] = [
      { _id: 'a', version: 1, status: 'PENDING' }, // stale
      { _id: 'b', version: 2, status: 'REJECTED' }, // newer
      { _id: 'c', version: 1, status: 'PENDING' }, // new
      { _id: 'a', version: 2, status: 'CONFIRMED' }, // duplicate delivery
      { _id: 'd', version: 5, status: 'CANCELLED' }, // new
    ];
    const existing = new Set(
      (
        await orders
          .find({ _id: { $in: batch.map((d) => d._id) } }, { projection: { _id: 1 } })
          .toArray()
      ).map((d) => d._id),
    );
    const operations: AnyBulkWriteOperation<OrderDoc>[] = batch.map((doc) =>
      existing.has(doc._id)
        ? {
            updateOne: {
              filter: { _id: doc._id, version: { $lt: doc.version } },
              update: { $set: { version: doc.version, status: doc.status } },
            },
          }
        : { insertOne: { document: doc } },
    );
    const result = await orders.bulkWrite(operations, { ordered: false });
    expect({ inserted: result.insertedCount, modified: result.modifiedCount }).toEqual({
      inserted: 2,
      modified: 1,
    });
    const docs = await orders.find({}, { sort: { _id: 1 } }).toArray();
    expect(docs).toEqual([
      { _id: 'a', version: 2, status: 'CONFIRMED' },
      { _id: 'b', version: 2, status: 'REJECTED' },
      { _id: 'c', version: 1, status: 'PENDING' },
      { _id: 'd', version: 5, status: 'CANCELLED' },
    ]);
  });

  it('updates 500 matched documents in one batch without stalling the server', async () => {
    // Stock FerretDB 1.24.2 held a backend connection per matched update until the command
    // ended: at 100 (its SQLite pool) the whole server stopped answering. Patched in
    // infra/ferretdb/patches; a projection's batch is this shape.
    const orders = mongo.db.collection<OrderDoc>('orders_large_batch');
    const ids = Array.from({ length: 500 }, (_, i) => `o-${i}`);
    await orders.insertMany(ids.map((id) => ({ _id: id, version: 1, status: 'PENDING' })));
    const batch = ids.map((id) => ({
      updateOne: {
        filter: { _id: id, version: { $lt: 2 } },
        update: { $set: { version: 2, status: 'CONFIRMED' } },
      },
    }));
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      orders.bulkWrite(batch, { ordered: false }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          reject(new Error('a 500-document batch did not finish in 20 s'));
        }, 20_000);
      }),
    ]).finally(() => {
      clearTimeout(timer);
    });
    expect(result.modifiedCount).toBe(500);
    expect(await orders.countDocuments({ version: 2 })).toBe(500);
    expect((await mongo.db.admin().command({ ping: 1 }))['ok']).toBe(1);
  });

  it('loads a batch of documents by _id with $in through the _id index, not a scan', async () => {
    // A projection's every batch starts with find({_id: {$in: ids}}). Stock FerretDB 1.24
    // pushes down only a lone _id equality and scanned the table for $in (520 ids/s at 20,000
    // documents); patched, SQLite answers it from the _id index (docs/engines.md).
    const docs = mongo.db.collection<OrderDoc>('orders_in');
    await docs.insertMany(
      Array.from({ length: 300 }, (_, i) => ({ _id: `o-${i}`, version: 1, status: 'PENDING' })),
    );
    const ids = ['o-7', 'o-150', 'o-299', 'missing'];
    const found = await docs.find({ _id: { $in: ids } }).toArray();
    expect(found.map((d) => d._id).sort()).toEqual(['o-150', 'o-299', 'o-7']);
    if (await isFerretDb()) {
      const plan = await mongo.db.command({
        explain: { find: 'orders_in', filter: { _id: { $in: ids } } },
      });
      expect(plan['filterPushdown']).toBe(true);
      expect(JSON.stringify(plan['queryPlanner'])).toMatch(/USING INDEX/);
    }
  });

  it('applies exactly one of two concurrent replaces guarded by the same revision', async () => {
    // The compare-and-set every projection write relies on. Stock FerretDB 1.24 reads the match
    // and writes by _id in two statements, so both applied in 10 of 50 pairs; patched, update
    // commands on one collection run one at a time (docs/engines.md), as atomic as MongoDB's.
    const docs = mongo.db.collection<{ _id: string; revision: number; by: string }>('cas');
    let both = 0;
    for (let i = 0; i < 50; i++) {
      await docs.insertOne({ _id: `d-${i}`, revision: 1, by: 'none' });
      const replace = (by: string) =>
        docs.bulkWrite(
          [
            {
              replaceOne: {
                filter: { _id: `d-${i}`, revision: 1 },
                replacement: { revision: 2, by },
              },
            },
          ],
          { ordered: false },
        );
      const [a, b] = await Promise.all([replace('a'), replace('b')]);
      expect(a.matchedCount + b.matchedCount).toBeGreaterThanOrEqual(1);
      if (a.matchedCount === 1 && b.matchedCount === 1) both++;
    }
    expect(both).toBe(0);
  });

  it('runs the statements of one update command in order, each seeing what those before it wrote', async () => {
    // Patched FerretDB writes an update command's documents in one transaction at its end, and
    // before any statement that may match one of them (docs/engines.md): the same results as
    // writing each at once.
    const docs = mongo.db.collection<{ _id: string; revision: number; by: string }>('in_order');
    await docs.insertMany([
      { _id: 'x', revision: 1, by: 'none' },
      { _id: 'y', revision: 1, by: 'none' },
    ]);
    const result = await docs.bulkWrite(
      [
        {
          replaceOne: { filter: { _id: 'x', revision: 1 }, replacement: { revision: 2, by: 'a' } },
        },
        {
          replaceOne: { filter: { _id: 'y', revision: 1 }, replacement: { revision: 2, by: 'a' } },
        },
        // The same _id: matches only as written by the first statement.
        {
          replaceOne: { filter: { _id: 'x', revision: 2 }, replacement: { revision: 3, by: 'b' } },
        },
        // No _id: matches y only as written by the second.
        { updateMany: { filter: { revision: 2 }, update: { $set: { by: 'many' } } } },
        {
          updateOne: {
            filter: { _id: 'z' },
            update: { $set: { revision: 1, by: 'new' } },
            upsert: true,
          },
        },
      ],
      { ordered: true },
    );
    expect({ matched: result.matchedCount, upserted: result.upsertedCount }).toEqual({
      matched: 4,
      upserted: 1,
    });
    expect(await docs.find({}, { sort: { _id: 1 } }).toArray()).toEqual([
      { _id: 'x', revision: 3, by: 'b' },
      { _id: 'y', revision: 2, by: 'many' },
      { _id: 'z', revision: 1, by: 'new' },
    ]);
    // A statement that fails does not take back what those before it wrote.
    const error = await mongo.db
      .collection<{ _id: string }>('in_order') // loosely typed: the failing statement increments a string
      .bulkWrite(
        [
          {
            replaceOne: {
              filter: { _id: 'x', revision: 3 },
              replacement: { revision: 4, by: 'kept' },
            },
          },
          { updateOne: { filter: { _id: 'y' }, update: { $inc: { by: 1 } } } }, // by is a string
        ],
        { ordered: true },
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(MongoServerError);
    expect(await docs.findOne({ _id: 'x' })).toEqual({ _id: 'x', revision: 4, by: 'kept' });
  });

  async function isFerretDb(): Promise<boolean> {
    const info = await mongo.db.admin().command({ buildInfo: 1 });
    return 'ferretdbVersion' in info;
  }
});
