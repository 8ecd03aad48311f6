// The change feed between instances: every write transaction sends a NOTIFY on one channel naming
// the systems it touched and the events it recorded, and each instance LISTENs on a connection of
// its own. The feed tells its owner when it goes down and comes back, so the read cache is trusted
// only while no change can be missed.
import pg from 'pg';
import type { InstallEvent } from './types.ts';

/** The NOTIFY channel every instance listens on. */
export const CHANNEL = 'kickstand_changes';
/** NOTIFY payloads must stay under 8000 bytes; past this a change is sent as "everything changed". */
export const MAX_PAYLOAD_BYTES = 7000;
export const DEFAULT_RETRY_MS = 1000;
export const DEFAULT_PING_MS = 5000;

/** What one committed transaction changed, as sent over NOTIFY. */
export interface ChangeNotice {
  /** Sending instance (its own notices are skipped). */
  i: string;
  /** Systems whose row changed. */
  s?: string[];
  /** Of those, systems whose build tokens changed. */
  t?: string[];
  /** Of those, systems whose MACs or address changed, or that were created or deleted. */
  m?: string[];
  /** Events recorded (no installer log). */
  e?: InstallEvent[];
  /** Changes too large to list: drop everything cached. */
  all?: 1;
}

/** Returns the NOTIFY payload for a change; falls back to "everything changed" when too large. */
export function encodeNotice(n: ChangeNotice): string {
  const events = n.e?.map((e) => ({ ...e, log: null, message: e.message && e.message.length > 1000 ? e.message.slice(0, 1000) : e.message }));
  const text = JSON.stringify({ ...n, ...(events ? { e: events } : {}) });
  if (Buffer.byteLength(text) <= MAX_PAYLOAD_BYTES) return text;
  return JSON.stringify({ i: n.i, all: 1 });
}

export interface ChangeFeedOptions {
  /** Connection settings of the listening client. */
  client: pg.ClientConfig;
  /** This instance's id: notices it sent itself are not delivered. */
  instance: string;
  onNotice(n: ChangeNotice): void;
  /** Called with false when the feed goes down and true when it is listening again. */
  onState(up: boolean, reason: string): void;
  retryMs?: number;
  /** How often the listening connection is checked (a dead peer may never close it). */
  pingMs?: number;
}

/** A LISTEN connection that reconnects by itself until closed. */
export class ChangeFeed {
  private client: pg.Client | null = null;
  private closed = false;
  private up = false;
  private timer: NodeJS.Timeout | null = null;
  private ping: NodeJS.Timeout | null = null;

  constructor(private readonly o: ChangeFeedOptions) {}

  /** Connects and listens; rejects when the first attempt fails (start-up reports it). */
  async start(): Promise<void> {
    await this.connect();
  }

  /** Returns whether the feed is listening now. */
  get listening(): boolean {
    return this.up;
  }

  /** Stops listening and reconnecting. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.ping) clearInterval(this.ping);
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const pingMs = this.o.pingMs ?? DEFAULT_PING_MS;
    // A ping that never returns (a peer gone without a FIN) must fail, so the feed notices it is down.
    const c = new pg.Client({ keepAlive: true, ...this.o.client, query_timeout: pingMs });
    c.on('error', (err) => this.lost(c, err.message));
    c.on('end', () => this.lost(c, 'connection closed'));
    c.on('notification', (msg) => {
      if (msg.channel !== CHANNEL || !msg.payload) return;
      let n: ChangeNotice;
      try {
        n = JSON.parse(msg.payload) as ChangeNotice;
      } catch {
        return;
      }
      if (n.i !== this.o.instance) this.o.onNotice(n);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${CHANNEL}`);
    } catch (err) {
      c.removeAllListeners('end');
      await c.end().catch(() => undefined);
      throw err;
    }
    if (this.closed) {
      await c.end().catch(() => undefined);
      return;
    }
    this.client = c;
    this.up = true;
    this.o.onState(true, 'listening');
    this.ping = setInterval(() => {
      c.query('SELECT 1').catch((err: Error) => this.lost(c, `ping failed: ${err.message}`));
    }, pingMs);
    this.ping.unref();
  }

  private lost(c: pg.Client, reason: string): void {
    if (this.client !== c || this.closed) return;
    this.client = null;
    if (this.ping) clearInterval(this.ping);
    this.ping = null;
    c.end().catch(() => undefined);
    if (this.up) {
      this.up = false;
      this.o.onState(false, reason);
    }
    this.retry();
  }

  private retry(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect().catch(() => this.retry());
    }, this.o.retryMs ?? DEFAULT_RETRY_MS);
    this.timer.unref();
  }
}
