// A consistent read is bounded even when the database stops answering: a loopback socket that
// accepts connections and never replies stands for a stalled server.
import { createServer, type Server, type Socket } from 'node:net';
import { MongoClient } from 'mongodb';
import { NotYetConsistentError, ReadModelUnavailableError, ReadModels } from './reader';

describe('ReadModels with a database that does not answer', () => {
  let server: Server;
  const sockets = new Set<Socket>();
  let client: MongoClient;
  let readModels: ReadModels;
  const token = { stream: { type: 'order', id: 'o-1' }, version: 1 };

  beforeAll(async () => {
    server = createServer((socket) => {
      sockets.add(socket); // read, never answer
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    client = new MongoClient(`mongodb://127.0.0.1:${port}/`, {
      serverSelectionTimeoutMS: 20_000,
      directConnection: true,
    });
    readModels = new ReadModels(client.db('stalled'), { operationTimeoutMs: 400 });
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await client.close(true);
    await new Promise((resolve) => server.close(resolve));
  });

  /** The read's error and how long it took. */
  const timed = async (read: () => Promise<unknown>) => {
    const started = Date.now();
    const error = await read().then(
      () => undefined,
      (e: unknown) => e,
    );
    return { error, waited: Date.now() - started };
  };

  it('a read without a token fails as unavailable at the operation timeout, a document or a list', async () => {
    for (const read of [
      () => readModels.get('order-details', 'o-1'),
      () => readModels.list('customer-orders', { filter: {}, limit: 10 }),
    ]) {
      const { error, waited } = await timed(read);
      expect(error).toBeInstanceOf(ReadModelUnavailableError);
      expect((error as ReadModelUnavailableError).code).toBe('ETIMEDOUT'); // the HTTP layer's 503
      expect(waited).toBeGreaterThanOrEqual(390);
      expect(waited).toBeLessThan(2_000);
    }
  });

  it('a consistency wait longer than the operation timeout fails as unavailable at that timeout', async () => {
    const { error, waited } = await timed(() =>
      readModels.get('order-details', 'o-1', { consistentWith: token, timeoutMs: 10_000 }),
    );
    expect(error).toBeInstanceOf(ReadModelUnavailableError);
    expect(waited).toBeGreaterThanOrEqual(390);
    expect(waited).toBeLessThan(2_000);
  });

  it('answers "not yet consistent" by the read\'s deadline, for a document and for a list', async () => {
    for (const read of [
      () => readModels.get('order-details', 'o-1', { consistentWith: token, timeoutMs: 300 }),
      () =>
        readModels.list(
          'customer-orders',
          { filter: {}, limit: 10 },
          { consistentWith: token, timeoutMs: 300 },
        ),
    ]) {
      const started = Date.now();
      const error = await read().then(
        () => undefined,
        (e: unknown) => e,
      );
      const waited = Date.now() - started;
      expect(error).toBeInstanceOf(NotYetConsistentError);
      expect(waited).toBeGreaterThanOrEqual(290);
      expect(waited).toBeLessThan(2_000); // the driver alone would wait 20 s to select a server
    }
  });
});
