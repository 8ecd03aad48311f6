// Prometheus metrics on a registry of their own (never prom-client's global one). Each part feeds
// them through one explicit hook; counters the protocol servers keep already are read at scrape
// time, so nothing is counted twice and nothing is lost before the hooks are wired.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DhcpStats } from '../dhcp/server.ts';
import type { TftpStats, TransferSummary } from '../tftp/index.ts';
import type { InstallEvent, Store, System, SystemCounts } from '../store/types.ts';
import { displayedCounts } from '../boot/fleet.ts';
import { ROUTES, compilePattern } from './routes.ts';

/** Install duration buckets in seconds: one minute to two hours. */
export const DEFAULT_INSTALL_BUCKETS = [60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200];
/** TFTP transfer duration buckets in seconds. */
export const DEFAULT_TFTP_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export interface MetricsOptions {
  installBuckets?: number[];
  tftpBuckets?: number[];
}

/** What collectSystems needs from the lifecycle: the store's aggregate counts, the clock and the stall time. */
export interface SystemSource {
  store: Pick<Store, 'countSystems'>;
  now(): number;
  stallMs: number;
}

/** What collectRefusals reads: counts of refusals and limit hits by reason. */
export interface RefusalSource {
  counts(kind: 'trust' | 'limit'): Record<string, number>;
}

/** What collectPower needs from power control: systems counted by the last power state seen (kept as states change). */
export interface PowerSource {
  stateCounts(): Record<string, number>;
}

type Snapshot = Array<[Record<string, string>, number]>;
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const SYSTEM_STATES = ['registered', 'build', 'installing', 'stalled', 'built', 'failed', 'discovered'];
const EXPRESS_ROUTES = ROUTES.filter((r) => !r.lean).map(compilePattern);

/** Returns the route label for a request served by express: the route table's name, else a fixed bucket. */
export function routeLabel(path: string, method = 'GET'): string {
  const hits = EXPRESS_ROUTES.filter((r) => r.match(path));
  const hit = hits.find((r) => r.spec.methods.includes(method as never)) ?? hits[0];
  if (hit) return hit.spec.name;
  if (path === '/' || path === '/ui' || path.startsWith('/ui/')) return 'dashboard';
  return 'unmatched';
}

/** Holds kickstand's Prometheus registry and the hooks that feed it. */
export class Metrics {
  readonly registry = new Registry();
  private dhcpStats: (() => DhcpStats | null) | null = null;
  private tftpStats: (() => TftpStats | null) | null = null;
  private systems: SystemSource | null = null;
  private refusals: RefusalSource | null = null;
  /** One aggregate query serves both system gauges of a scrape. */
  private counting: Promise<SystemCounts | null> | null = null;
  /** Runs seen going: system name → run and when it was armed / first fetched. */
  private readonly runs = new Map<string, { run: number; armedAt: number | null; startedAt: number | null }>();
  private readonly http: Counter<'route' | 'method' | 'status'>;
  private readonly httpChildren = new Map<string, Map<string, Map<number, { inc(): void }>>>();
  private readonly dhcpRequests: Counter<'type' | 'result'>;
  private readonly tftpDuration: Histogram<'outcome'>;
  private readonly started: Counter;
  private readonly built: Counter;
  private readonly failed: Counter;
  private readonly installDuration: Histogram;
  private power: PowerSource | null = null;
  private readonly powerActions: Counter<'driver' | 'action' | 'result'>;

  constructor(o: MetricsOptions = {}) {
    const registers = [this.registry];
    this.http = new Counter({ name: 'kickstand_http_requests_total', help: 'HTTP requests answered, by route table name, method and status', labelNames: ['route', 'method', 'status'], registers });
    this.dhcpRequests = new Counter({ name: 'kickstand_dhcp_requests_total', help: 'DHCP requests by message type and what was answered (reply type or none)', labelNames: ['type', 'result'], registers });
    this.tftpDuration = new Histogram({ name: 'kickstand_tftp_transfer_duration_seconds', help: 'TFTP transfer durations by outcome', labelNames: ['outcome'], buckets: o.tftpBuckets ?? DEFAULT_TFTP_BUCKETS, registers });
    this.started = new Counter({ name: 'kickstand_installs_started_total', help: 'Install runs that started (first fetch or report of a run)', registers });
    this.built = new Counter({ name: 'kickstand_installs_built_total', help: 'Install runs that reported built', registers });
    this.failed = new Counter({ name: 'kickstand_installs_failed_total', help: 'Install runs that reported failed', registers });
    this.installDuration = new Histogram({ name: 'kickstand_install_duration_seconds', help: 'Time from the first fetch of a run (or arming, when no fetch was seen) to built', buckets: o.installBuckets ?? DEFAULT_INSTALL_BUCKETS, registers });

    const dhcp = () => this.dhcpStats?.() ?? null;
    this.snapshot('counter', 'kickstand_dhcp_packets_received_total', 'DHCP packets received', [], () => one(dhcp()?.received));
    this.snapshot('counter', 'kickstand_dhcp_packets_dropped_total', 'DHCP packets dropped before an answer was looked for', ['reason'], () => {
      const s = dhcp();
      return s ? [[{ reason: 'malformed' }, s.malformed], [{ reason: 'overloaded' }, s.overloaded]] : [];
    });
    this.snapshot('counter', 'kickstand_dhcp_requests_unanswered_total', 'DHCP requests deliberately left without a reply', [], () => one(dhcp()?.ignored));
    this.snapshot('counter', 'kickstand_dhcp_replies_total', 'DHCP replies sent, by message type', ['type'], () => Object.entries(dhcp()?.replies ?? {}).map(([type, n]) => [{ type }, n]));
    this.snapshot('counter', 'kickstand_dhcp_send_errors_total', 'DHCP replies the socket failed to send', [], () => one(dhcp()?.sendErrors));
    this.snapshot('counter', 'kickstand_dhcp_pool_full_total', 'DHCP offers refused because the pool was full', [], () => one(dhcp()?.poolFull));
    this.snapshot('gauge', 'kickstand_dhcp_in_flight', 'DHCP requests being answered now', [], () => one(dhcp()?.inFlight));
    this.snapshot('gauge', 'kickstand_dhcp_leases', 'DHCP leases held in full mode, by state', ['state'], () => {
      const l = dhcp()?.leases;
      return l ? [[{ state: 'offered' }, l.offered], [{ state: 'bound' }, l.bound], [{ state: 'declined' }, l.declined]] : [];
    });

    const tftp = () => this.tftpStats?.() ?? null;
    this.snapshot('counter', 'kickstand_tftp_transfers_total', 'TFTP transfers ended, by outcome (aborted: the client stopped after options, as firmware does)', ['outcome'], () => {
      const s = tftp();
      return s ? [[{ outcome: 'completed' }, s.transfersCompleted], [{ outcome: 'failed' }, s.transfersFailed], [{ outcome: 'aborted' }, s.transfersAborted]] : [];
    });
    this.snapshot('counter', 'kickstand_tftp_bytes_sent_total', 'TFTP DATA payload bytes sent, retransmissions included', [], () => one(tftp()?.bytesSent));
    this.snapshot('counter', 'kickstand_tftp_packets_sent_total', 'TFTP DATA packets sent, retransmissions included', [], () => one(tftp()?.packetsSent));
    this.snapshot('counter', 'kickstand_tftp_retransmissions_total', 'TFTP DATA and OACK packets sent again', [], () => one(tftp()?.retransmissions));
    this.snapshot('counter', 'kickstand_tftp_timeouts_total', 'TFTP retransmission timer expiries', [], () => one(tftp()?.timeouts));
    this.snapshot('counter', 'kickstand_tftp_requests_refused_total', 'TFTP requests answered with an ERROR before any transfer', [], () => one(tftp()?.requestsRefused));
    this.snapshot('counter', 'kickstand_tftp_malformed_packets_total', 'TFTP packets dropped as malformed', [], () => one(tftp()?.malformed));
    this.snapshot('counter', 'kickstand_tftp_unanswered_total', 'TFTP requests whose first answer was never acknowledged (spoofed, scanners, clients gone), given up quietly', [], () => one(tftp()?.unanswered));
    this.snapshot('counter', 'kickstand_tftp_evicted_total', 'TFTP unanswered requests dropped early for newer ones (tftp.max_unanswered)', [], () => one(tftp()?.evicted));
    this.snapshot('counter', 'kickstand_tftp_deferred_total', 'TFTP requests dropped because tftp.max_transfers transfers were running or tftp.max_pending requests were waiting for their file (their clients ask again)', [], () => one(tftp()?.deferred));
    this.snapshot('counter', 'kickstand_tftp_busy_poll_turns_total', 'Event-loop turns TFTP spent polling for fast clients\' ACKs instead of sleeping (tftp.busy_poll_us)', [], () => one(tftp()?.busyPollTurns));
    this.snapshot('gauge', 'kickstand_tftp_active_transfers', 'TFTP transfers in progress', [], () => one(tftp()?.activeTransfers));

    const refused = (kind: 'trust' | 'limit', label: string) => (): Snapshot => Object.entries(this.refusals?.counts(kind) ?? {}).map(([reason, n]) => [{ [label]: reason }, n]);
    this.snapshot('counter', 'kickstand_trust_refusals_total', 'Requests refused by the trust policy (security.*), by reason', ['reason'], refused('trust', 'reason'));
    this.snapshot('counter', 'kickstand_limit_hits_total', 'Records not kept because a cap was reached (lifecycle.*), by limit', ['limit'], refused('limit', 'limit'));

    const self = this;
    new Gauge({
      name: 'kickstand_systems',
      help: 'Systems by displayed state (stalled: installing, or armed with pxe as the last step, with no event for the stall time)',
      labelNames: ['state'],
      registers,
      async collect() {
        this.reset();
        const c = await self.systemCounts();
        if (!c) return;
        const shown = displayedCounts(c);
        for (const state of SYSTEM_STATES) this.set({ state }, shown[state as keyof typeof shown] ?? 0);
      },
    });
    new Gauge({
      name: 'kickstand_systems_stalled',
      help: 'Systems installing, or armed with pxe as the last step, with no event for the stall time, counted at scrape time',
      registers,
      async collect() {
        this.set((await self.systemCounts())?.stalled ?? 0);
      },
    });
    // Counts, not a series per system: a scrape costs the same with 10 or 10,000 machines and names none of them.
    this.snapshot('gauge', 'kickstand_power_systems', 'Systems under power control by the last power state seen (on, off; unknown: the last ask failed); not yet asked: not counted', ['state'], () =>
      Object.entries(this.power?.stateCounts() ?? {}).map(([state, n]) => [{ state }, n]),
    );
    this.powerActions = new Counter({ name: 'kickstand_power_actions_total', help: 'Power actions (status, on, off, cycle) by driver and result', labelNames: ['driver', 'action', 'result'], registers });
  }

  /** Adds prom-client's process metrics (CPU, memory, event loop lag, handles); main does it once the service is up. */
  collectProcessMetrics(): void {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Returns this scrape's system counts: one store query shared by the gauges that collect at the same time. */
  private systemCounts(): Promise<SystemCounts | null> {
    const src = this.systems;
    if (!src) return Promise.resolve(null);
    if (!this.counting) {
      this.counting = src.store.countSystems(src.now() - src.stallMs);
      const clear = () => {
        this.counting = null;
      };
      void this.counting.then(clear, clear);
    }
    return this.counting;
  }

  /** Returns the Content-Type of the exposition text. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Returns the metrics in the Prometheus text format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** Counts one HTTP request (the lean path's observe hook has this signature). */
  readonly observeHttp = (route: string, method: string, status: number): void => {
    // The boot path calls this once per request: keep the labelled child per combination rather
    // than have prom-client hash a label object every time.
    let byMethod = this.httpChildren.get(route);
    if (!byMethod) this.httpChildren.set(route, (byMethod = new Map()));
    const m = METHODS.has(method) ? method : 'OTHER';
    let byStatus = byMethod.get(m);
    if (!byStatus) byMethod.set(m, (byStatus = new Map()));
    let child = byStatus.get(status);
    if (!child) byStatus.set(status, (child = this.http.labels({ route, method: m, status: String(status) })));
    child.inc();
  };

  /** Returns express-style middleware that counts every request it sees when the response ends. */
  httpMiddleware(): (req: IncomingMessage, res: ServerResponse, next: () => void) => void {
    return (req, res, next) => {
      const q = req.url?.indexOf('?') ?? -1;
      const path = q >= 0 ? req.url!.slice(0, q) : (req.url ?? '/');
      res.on('finish', () => this.observeHttp(routeLabel(path, req.method), req.method ?? 'GET', res.statusCode));
      next();
    };
  }

  /** Reads DHCP counters from stats() at every scrape (null or unset: none exported). */
  collectDhcp(stats: () => DhcpStats | null): void {
    this.dhcpStats = stats;
  }

  /** Counts one DHCP request by its message type and the reply type sent ('none' when silent). */
  observeDhcp(type: string, result: string): void {
    this.dhcpRequests.inc({ type, result });
  }

  /** Reads TFTP counters from stats() at every scrape (null or unset: none exported). */
  collectTftp(stats: () => TftpStats | null): void {
    this.tftpStats = stats;
  }

  /** Records one ended TFTP transfer's duration (listen to TftpServer's 'transfer' event). */
  observeTftp(summary: TransferSummary): void {
    this.tftpDuration.observe({ outcome: summary.outcome }, summary.durationMs / 1000);
  }

  /** Counts systems by state and the stalled ones at every scrape, with one aggregate query to the lifecycle's store. */
  collectSystems(source: SystemSource): void {
    this.systems = source;
  }

  /** Reads refusal and limit-hit counts at every scrape. */
  collectRefusals(source: RefusalSource): void {
    this.refusals = source;
  }

  /** Reads the systems counted by last power state at each scrape. */
  collectPower(source: PowerSource): void {
    this.power = source;
  }

  /** Counts one power action and whether it worked. */
  observePower(driver: string, action: string, ok: boolean): void {
    this.powerActions.inc({ driver, action, result: ok ? 'ok' : 'failed' });
  }

  /** Counts installs started, built and failed and times them (call from the lifecycle's onEvent). */
  onLifecycleEvent(system: System, event: InstallEvent): void {
    if (event.run !== system.run) return; // a late report of an older run changes nothing
    const name = system.name;
    let r = this.runs.get(name);
    if (event.stage === 'armed') {
      this.runs.set(name, { run: event.run, armedAt: event.time, startedAt: null });
      return;
    }
    if (event.stage === 'built' || event.stage === 'failed') {
      this.runs.delete(name);
      if (system.state !== event.stage) return; // disarmed by the operator: not an install outcome
      (event.stage === 'built' ? this.built : this.failed).inc();
      const from = r && r.run === event.run ? (r.startedAt ?? r.armedAt) : null;
      if (event.stage === 'built' && from !== null) this.installDuration.observe(Math.max(0, event.time - from) / 1000);
      return;
    }
    if (system.state !== 'installing') return;
    if (!r || r.run !== event.run) {
      r = { run: event.run, armedAt: null, startedAt: null };
      this.runs.set(name, r);
    }
    if (r.startedAt === null) {
      r.startedAt = event.time;
      this.started.inc();
    }
  }

  /** Registers a counter or gauge whose values are copied from a snapshot at scrape time. */
  private snapshot(kind: 'counter' | 'gauge', name: string, help: string, labelNames: string[], read: () => Snapshot): void {
    const collect = function (this: Counter<string> | Gauge<string>) {
      this.reset();
      for (const [labels, value] of read()) {
        if (this instanceof Counter) this.inc(labels, value);
        else this.set(labels, value);
      }
    };
    if (kind === 'counter') new Counter({ name, help, labelNames, registers: [this.registry], collect });
    else new Gauge({ name, help, labelNames, registers: [this.registry], collect });
  }
}

/** Returns a one-value snapshot, or none when the value is unknown. */
function one(v: number | undefined): Snapshot {
  return v === undefined ? [] : [[{}, v]];
}
