// DHCP servers sharing one network watch each other through heartbeats in the shared database:
// every heartbeat interval this instance writes its own and reads everyone's (ages by the
// database's clock, so the hosts' clocks do not matter). A peer whose heartbeat is older than
// maxResponseDelayMs is down and its buckets go to the survivors; when its heartbeats resume it
// gets them back. A starting instance holds back for two intervals, so a survivor has seen it
// before both answer the same clients; an instance that cannot reach the database answers only
// its own buckets (never a peer's it cannot know is down).
import type { Logger } from '../log.ts';
import type { InstanceBeat } from '../store/types.ts';
import { BucketMap, LoadBalancer } from '../dhcp/load-balance.ts';

export const DEFAULT_HEARTBEAT_MS = 1000;
export const DEFAULT_MAX_RESPONSE_DELAY_MS = 5000;

export interface DhcpPeersOptions {
  /** Writes this instance's heartbeat and returns every instance's (Store.heartbeat). */
  heartbeat(name: string): Promise<InstanceBeat[]>;
  balancer: LoadBalancer;
  log: Logger;
  heartbeatMs?: number;
  maxResponseDelayMs?: number;
  /** Called after buckets changed hands, with the number this instance gained (may be negative). */
  onChange?(gained: number, alive: string[]): void;
  /**
   * Awaited before this instance takes buckets over (e.g. to learn the leases the other instance
   * handed out, so its clients keep their addresses); a failure is logged and the takeover goes on.
   */
  beforeGain?(): Promise<void>;
  clock?: () => number;
}

/** Keeps a LoadBalancer's buckets in line with which peers are alive. */
export class DhcpPeers {
  private timer: NodeJS.Timeout | null = null;
  private lastBeatOk: number;
  private readonly startedAt: number;
  private readonly clock: () => number;
  private readonly heartbeatMs: number;
  private readonly maxDelayMs: number;
  private alive: string[] = [];
  private running = false;
  private isolated = false;

  constructor(private readonly o: DhcpPeersOptions) {
    this.clock = o.clock ?? Date.now;
    this.heartbeatMs = o.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.maxDelayMs = o.maxResponseDelayMs ?? DEFAULT_MAX_RESPONSE_DELAY_MS;
    this.startedAt = this.clock();
    this.lastBeatOk = this.startedAt;
  }

  /** Beats once and then every interval; balanced requests wait until two intervals have passed. */
  async start(): Promise<void> {
    this.running = true;
    this.o.balancer.hold(true);
    await this.tick();
    const loop = () => {
      if (!this.running) return;
      this.timer = setTimeout(() => void this.tick().finally(loop), this.heartbeatMs);
      this.timer.unref();
    };
    loop();
  }

  /** Stops beating (the peers take over after maxResponseDelayMs). */
  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Returns the peers seen alive at the last heartbeat, and how many buckets this instance answers. */
  status(): { alive: string[]; buckets: number; held: boolean } {
    return { alive: [...this.alive], buckets: this.o.balancer.buckets.servedCount, held: this.o.balancer.held };
  }

  /** One heartbeat: write ours, read theirs, reassign buckets. */
  async tick(): Promise<void> {
    const b = this.o.balancer.buckets;
    const now = this.clock();
    let alive: Set<string>;
    try {
      const beats = await this.o.heartbeat(b.self);
      this.lastBeatOk = this.clock();
      alive = new Set(beats.filter((x) => x.ageMs < this.maxDelayMs && b.peers.includes(x.name)).map((x) => x.name));
      alive.add(b.self);
      this.isolated = false;
    } catch (err) {
      if (now - this.lastBeatOk < this.maxDelayMs) return;
      // Cut off from the database: the peers will take our buckets; we keep only our own.
      if (!this.isolated) this.o.log.warn({ err: (err as Error).message }, 'dhcp load balancing: no heartbeat; answering only this instance\'s own buckets');
      this.isolated = true;
      alive = new Set(b.peers);
    }
    const before = b.servedCount;
    if (this.o.beforeGain) {
      const next = new BucketMap(b.peers, b.self);
      next.assign(alive);
      if (next.servedCount > before) {
        await this.o.beforeGain().catch((err: Error) => this.o.log.warn({ err: err.message }, 'dhcp load balancing: preparing a takeover failed; taking over anyway'));
      }
    }
    const changed = b.assign(alive);
    const names = [...alive].sort();
    if (changed > 0 || names.join() !== this.alive.join()) {
      this.o.log.info({ alive: names, buckets: b.servedCount }, `dhcp load balancing: answering ${b.servedCount} of 256 buckets (alive: ${names.join(', ')})`);
      this.alive = names;
      if (changed > 0) this.o.onChange?.(b.servedCount - before, names);
    }
    if (this.o.balancer.held && this.clock() - this.startedAt >= 2 * this.heartbeatMs) this.o.balancer.hold(false);
  }
}
