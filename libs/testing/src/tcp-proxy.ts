// A TCP proxy in front of an engine, for tests that take the engine away: `cut()` closes the
// listener and resets every connection through it (what a restart or a network partition looks
// like to the client), `stall()` keeps every connection open and accepts new ones but forwards
// nothing either way (a server that stopped answering, a partition that drops packets), and
// `restore()` undoes either: it listens again on the same port, or forwards what was held.
import { createServer, connect, type Server, type Socket } from 'node:net';

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
}

export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly pairs = new Set<Pair>();
  private stalled = false;

  private constructor(
    private readonly target: { readonly host: string; readonly port: number },
    public port: number,
  ) {}

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const proxy = new TcpProxy(target, 0);
    await proxy.listen();
    return proxy;
  }

  private listen(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      const pair = { client, upstream };
      this.pairs.add(pair);
      // One side closed closes the other, stalled or not (a pipe ends its destination only
      // while it flows): what the closed side had not sent never reaches the other.
      client.on('close', () => {
        this.pairs.delete(pair);
        upstream.destroy();
      });
      upstream.on('close', () => client.destroy());
      if (!this.stalled) flow(pair);
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        this.port = (server.address() as { port: number }).port;
        resolve();
      });
    });
  }

  /** Nothing reaches the engine any more: new connections are refused, open ones reset. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.resetAndDestroy();
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  /** Connections stay open and new ones are accepted, but no byte goes through either way. */
  stall(): void {
    this.stalled = true;
    for (const pair of this.pairs) {
      pair.client.unpipe(pair.upstream);
      pair.upstream.unpipe(pair.client);
      pair.client.pause();
      pair.upstream.pause();
    }
  }

  async restore(): Promise<void> {
    if (this.stalled) {
      this.stalled = false;
      for (const pair of this.pairs) flow(pair);
    }
    if (!this.server) await this.listen();
  }

  async stop(): Promise<void> {
    await this.cut();
  }
}

/** Bytes flow both ways (what was held while stalled goes through now). */
function flow({ client, upstream }: Pair): void {
  client.pipe(upstream);
  upstream.pipe(client);
}
