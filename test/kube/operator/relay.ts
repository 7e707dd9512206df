import net from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

/**
 * A TCP relay between the operator and the apiserver, for breaking the connection in the ways a
 * cluster does: `freeze()` stops forwarding on every open connection without closing it (a
 * half-open connection, a stuck NAT or proxy) while new connections still work, or, with
 * `newConnections: true`, new connections are accepted and stay silent too (the whole path is
 * frozen) until `thaw()`, which cuts the frozen ones (what they carried is lost); `cut()` closes
 * everything and stops listening (connections are refused, as when the apiserver's Service has
 * no endpoint); `restore()` listens again on the same port.
 */
export class ApiServerRelay {
  private server: net.Server | undefined;
  private readonly open = new Set<{ frozen: boolean; sockets: net.Socket[] }>();
  private holdNew = false;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  /** Listens on loopback (the first time on a free port, then on the same one again). */
  async listen(): Promise<void> {
    const server = net.createServer((client) => this.relay(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', resolve);
    });
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
  }

  /** Silences every open connection (and, if asked, every new one); returns how many were open. */
  freeze({ newConnections = false } = {}): number {
    this.holdNew = newConnections;
    for (const link of this.open) link.frozen = true;
    return this.open.size;
  }

  /** New connections work again; the frozen ones are reset. */
  thaw(): void {
    this.holdNew = false;
    for (const link of this.open) {
      if (!link.frozen) continue;
      for (const socket of link.sockets) socket.destroy();
      this.open.delete(link);
    }
  }

  /** Refuses new connections and resets the open ones; resolves once the port is free. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const link of this.open) for (const socket of link.sockets) socket.destroy();
    this.open.clear();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }

  restore(): Promise<void> {
    return this.listen();
  }

  close(): void {
    void this.cut();
  }

  private relay(client: net.Socket): void {
    const upstream = net.connect(this.target.port, this.target.host);
    const link = { frozen: this.holdNew, sockets: [client, upstream] };
    this.open.add(link);
    const forward = (from: net.Socket, to: net.Socket) =>
      from.on('data', (chunk) => {
        if (!link.frozen) to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
    const close = () => {
      if (link.frozen) return; // a frozen link never tells the other side anything
      client.destroy();
      upstream.destroy();
      this.open.delete(link);
    };
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  }
}

/** The kubeconfig at `path`, its current cluster reached through `relay` instead of directly. */
export function kubeConfigThrough(relay: ApiServerRelay, path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  const cluster = kc.getCurrentCluster()!;
  kc.clusters = kc.clusters.map((c) =>
    c.name === cluster.name ? { ...c, server: `https://127.0.0.1:${relay.port}` } : c,
  );
  return kc;
}
