// A consistent read is bounded even when the database stops answering: a loopback socket that
// accepts connections and never replies stands for a stalled server.
import { createServer, type Server, type Socket } from 'node:net';
import { MongoClient } from 'mongodb';
import { NotYetConsistentError, ReadModels } from './reader';

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
    readModels = new ReadModels(client.db('stalled'));
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await client.close(true);
    await new Promise((resolve) => server.close(resolve));
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
