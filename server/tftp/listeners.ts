// The listening sockets. With a wildcard host (0.0.0.0 or ::) there is one socket per local
// address, looked at again every refreshMs and bound or closed as addresses come and go (what
// dnsmasq's --bind-dynamic does), so every request is known by the address it came to and its
// transfer answers from that address, never from whatever the routing table would pick. Node has
// no IP_PKTINFO; a socket per address is how a pure-Node server learns the destination address.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { LineLog } from './host-protocol.ts';

export interface ListenerOptions {
  /** Address to listen on; a wildcard means every local address of that family. */
  host: string;
  /** Port (0: the OS picks one for the first address and the others follow it). */
  port: number;
  refreshMs: number;
  log: LineLog;
  /** A datagram arrived on the socket of `local`; `reply` answers from that socket. */
  onPacket: (msg: Buffer, rinfo: RemoteInfo, local: string, reply: (pkt: Buffer, port: number, address: string) => void) => void;
  /** The one socket of a specific host failed: the server cannot serve any more. */
  onFatal: (err: Error) => void;
}

/** Returns the local addresses a wildcard host stands for: every address of its family on an interface that is up. */
export function localAddresses(family: 'IPv4' | 'IPv6'): string[] {
  const out: string[] = [];
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family !== family) continue;
      // Link-local IPv6 addresses need their interface named to be bound.
      out.push(family === 'IPv6' && a.address.toLowerCase().startsWith('fe80:') ? `${a.address}%${name}` : a.address);
    }
  }
  return out;
}

/** Binds, refreshes and closes the listening sockets. */
export class Listeners {
  private readonly sockets = new Map<string, Socket>();
  private readonly wildcard: boolean;
  private readonly family: 'IPv4' | 'IPv6';
  private port = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private refreshing: Promise<void> = Promise.resolve();

  constructor(private readonly o: ListenerOptions) {
    this.wildcard = o.host === '0.0.0.0' || o.host === '::';
    this.family = isIP(o.host) === 6 ? 'IPv6' : 'IPv4';
  }

  /** Binds the sockets and returns the port; throws when not one could be bound. */
  async start(): Promise<{ address: string; port: number }> {
    const wanted = this.wildcard ? localAddresses(this.family) : [this.o.host];
    let firstError: Error | null = null;
    this.port = this.o.port;
    for (const address of wanted) {
      try {
        await this.open(address);
      } catch (err) {
        firstError ??= err as Error;
        if (!this.wildcard) throw err;
        this.o.log.warn({ address, port: this.port, err: (err as Error).message }, `tftp could not listen on ${address}`);
      }
    }
    if (this.sockets.size === 0) throw firstError ?? new Error(`tftp: no local ${this.family} address to listen on`);
    if (this.wildcard) {
      this.timer = setInterval(() => void (this.refreshing = this.refreshing.then(() => this.refresh())), this.o.refreshMs);
      this.timer.unref();
    }
    return { address: this.o.host, port: this.port };
  }

  /** Addresses listened on now. */
  addresses(): string[] {
    return [...this.sockets.keys()];
  }

  /** Closes every listening socket. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.refreshing;
    await Promise.all([...this.sockets.keys()].map((a) => this.drop(a)));
  }

  /** Binds sockets for new addresses and closes those of vanished ones. */
  async refresh(): Promise<void> {
    if (this.closed) return;
    const now = new Set(localAddresses(this.family));
    for (const address of this.sockets.keys()) {
      if (!now.has(address)) {
        this.o.log.info({ address }, `tftp address ${address} is gone; no longer listening on it`);
        await this.drop(address);
      }
    }
    for (const address of now) {
      if (this.sockets.has(address) || this.closed) continue;
      try {
        await this.open(address);
        this.o.log.info({ address, port: this.port }, `tftp listening on new address ${address}`);
      } catch (err) {
        this.o.log.warn({ address, port: this.port, err: (err as Error).message }, `tftp could not listen on new address ${address}`);
      }
    }
  }

  private async open(address: string): Promise<void> {
    const socket = createSocket({ type: this.family === 'IPv6' ? 'udp6' : 'udp4' });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => {
        socket.close();
        reject(err);
      };
      socket.once('error', onError);
      socket.bind({ port: this.port, address, exclusive: true }, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    if (this.port === 0) this.port = socket.address().port;
    const reply = (pkt: Buffer, port: number, to: string) => {
      if (this.sockets.get(address) === socket) socket.send(pkt, port, to);
    };
    socket.on('message', (msg, rinfo) => this.o.onPacket(msg, rinfo, address, reply));
    socket.on('error', (err) => {
      if (!this.wildcard) return this.o.onFatal(err);
      // One address failing (taken away under us) leaves the others serving; a refresh re-binds it if it comes back.
      this.o.log.warn({ address, err: err.message }, `tftp listening socket on ${address} failed; dropped`);
      void this.drop(address);
    });
    this.sockets.set(address, socket);
  }

  private drop(address: string): Promise<void> {
    const socket = this.sockets.get(address);
    if (!socket) return Promise.resolve();
    this.sockets.delete(address);
    return new Promise((resolve) => {
      try {
        socket.close(() => resolve());
      } catch {
        resolve(); // already closed by its failure
      }
    });
  }
}
