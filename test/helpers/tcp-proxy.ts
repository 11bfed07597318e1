// A TCP proxy on loopback between a coordinator and its database, to take the database away and
// give it back: close() refuses new connections and cuts the open ones (a server gone);
// open('blackhole') accepts connections and never answers (a network dropping packets);
// open('forward') on the same port brings the database back.
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export class TcpProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private mode: 'forward' | 'blackhole' = 'forward';
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  /** Listens (again, on the same port once it had one). */
  async open(mode: 'forward' | 'blackhole' = 'forward'): Promise<void> {
    this.mode = mode;
    const server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  private accept(client: Socket): void {
    this.track(client);
    if (this.mode === 'blackhole') return; // read nothing, answer nothing
    const upstream = this.track(createConnection(this.target));
    client.pipe(upstream).pipe(client);
    const both = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.once('close', both);
    upstream.once('close', both);
  }

  private track(socket: Socket): Socket {
    this.sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.once('close', () => this.sockets.delete(socket));
    return socket;
  }

  /** Cuts every connection through the proxy. */
  cut(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  /** Stops listening (new connections are refused) and cuts every open one. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    this.cut();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
