// The build lifecycle: arming (rebuild), artifact fetches, step reports, built/failed, booted and
// discovered machines. Every change is one Store transition; the rules live only here.
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.ts';
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError, PayloadTooLargeError, TooManyRequestsError } from '../errors.ts';
import { STAGES, type InstallEvent, type Store, type System, type TokenRecord } from '../store/types.ts';
import { Refusals } from './refusals.ts';
import { normalizeAddress, REFUSAL_TEXT, type Trust, type Verdict } from './trust.ts';

/** Stages a guest may report over the callback URL: every stage but those kickstand records itself. */
export const REPORTABLE: ReadonlySet<string> = new Set<string>(STAGES.filter((s) => !['armed', 'pxe', 'kickstart', 'script'].includes(s)));
/** Reports accepted from a retired or expired token: an install must never loop on a clock. */
const TERMINAL: ReadonlySet<string> = new Set(['built', 'failed', 'booted']);
const TERMINAL_STAGES = [...TERMINAL];

/** Caps on what unauthenticated requests can make the store keep (README "Security"). */
export interface LifecycleLimits {
  /** Events one run records at most; `built`/`failed` ending a live run always count. */
  eventsPerRun: number;
  /** `built`, `failed` and `booted` events one run records at most (late reports on a retired token). */
  finalReportsPerRun: number;
  /** Installer log bytes kept per system (older logs dropped first). */
  logBytesPerSystem: number;
  /** New `discovered` systems per window, and in total. */
  discoveredPerWindow: number;
  discoveredWindowMs: number;
  discoveredMax: number;
}

export const DEFAULT_LIMITS: LifecycleLimits = {
  eventsPerRun: 500,
  finalReportsPerRun: 10,
  logBytesPerSystem: 8 * 1024 * 1024,
  discoveredPerWindow: 60,
  discoveredWindowMs: 60_000,
  discoveredMax: 1000,
};

/** What a system looks like to operators: the stored state, or `stalled` when installing went quiet. */
export type DisplayState = System['state'] | 'stalled';

export interface LifecycleOptions {
  store: Store;
  log: Logger;
  clock?: () => number;
  tokenTtlMs?: number;
  stallMs?: number;
  maxLogBytes?: number;
  /** Called after every recorded event (metrics, live dashboard). */
  onEvent?: (system: System, event: InstallEvent) => void;
  /** Trust policy for token fetches and reports; none: every address is trusted (CLI, tests). */
  trust?: Trust;
  limits?: Partial<LifecycleLimits>;
  /** Where refusals and limit hits are counted and logged (shared with the boot policy and metrics). */
  refusals?: Refusals;
}

/** Returns a fresh build token: 160 random bits, URL-safe. */
export function newToken(): string {
  return randomBytes(20).toString('base64url');
}

/** Lifecycle rules over a Store. */
export class Lifecycle {
  readonly store: Store;
  private readonly log: Logger;
  private readonly clock: () => number;
  private tokenTtlMs: number;
  stallMs: number;
  maxLogBytes: number;
  readonly trust: Trust | null;
  readonly limits: LifecycleLimits;
  readonly refusals: Refusals;
  private readonly onEvent?: LifecycleOptions['onEvent'];
  private readonly discoveredWindow = { start: -Infinity, count: 0 };

  constructor(o: LifecycleOptions) {
    this.store = o.store;
    this.log = o.log;
    this.clock = o.clock ?? Date.now;
    this.tokenTtlMs = o.tokenTtlMs ?? 24 * 3600_000;
    this.stallMs = o.stallMs ?? 30 * 60_000;
    this.maxLogBytes = o.maxLogBytes ?? 1024 * 1024;
    this.onEvent = o.onEvent;
    this.trust = o.trust ?? null;
    this.limits = { ...DEFAULT_LIMITS, ...o.limits };
    this.refusals = o.refusals ?? new Refusals({ log: o.log, clock: this.clock });
  }

  /** Applies reloaded settings (SIGHUP); runs already armed keep the token expiry they were given. */
  configure(o: Pick<LifecycleOptions, 'tokenTtlMs' | 'stallMs' | 'maxLogBytes'>): void {
    if (o.tokenTtlMs !== undefined) this.tokenTtlMs = o.tokenTtlMs;
    if (o.stallMs !== undefined) this.stallMs = o.stallMs;
    if (o.maxLogBytes !== undefined) this.maxLogBytes = o.maxLogBytes;
  }

  /** Returns the current time of the lifecycle's clock. */
  now(): number {
    return this.clock();
  }

  /**
   * Returns the state to show: `stalled` when installing with no event for stallMs, or armed and
   * PXE-booted (its last event `pxe`) with nothing after it for stallMs (a guest that died in the
   * boot loader or before fetching its kickstart).
   */
  displayState(s: System): DisplayState {
    const quiet = this.now() - (s.lastEventAt ?? s.stateChangedAt) > this.stallMs;
    if (quiet && (s.state === 'installing' || (s.state === 'build' && s.stage === 'pxe'))) return 'stalled';
    return s.state;
  }

  private emit(system: System, event: InstallEvent | null): void {
    if (event) {
      this.log.info({ system: system.name, run: event.run, stage: event.stage, source: event.source }, `system ${system.name}: ${event.stage}`);
      this.onEvent?.(system, event);
    }
  }

  /** Arms a fresh install run: new token, build mode on, old tokens retired, history kept. */
  async arm(name: string, source: string | null, reason = 'armed'): Promise<System> {
    const now = this.now();
    const token = newToken();
    const r = await this.store.transition(name, now, (s) => {
      if (s.profile === null) throw new ConflictError(`system ${JSON.stringify(name)} has no profile; assign one before arming it`, 'profile');
      const run = s.run + 1;
      return {
        retireTokensAt: now,
        issueToken: { token, run, createdAt: now, expiresAt: now + this.tokenTtlMs },
        patch: { build: true, state: 'build', stage: null, run, token, tokenExpiresAt: now + this.tokenTtlMs, stateChangedAt: now, lastEventAt: now },
        event: { run, time: now, stage: 'armed', message: reason, source, log: null },
      };
    });
    this.emit(r.system, r.event);
    return r.system;
  }

  /** Turns build mode off without an install (operator cancel); the token is retired. */
  async disarm(name: string, source: string | null): Promise<System> {
    const now = this.now();
    const r = await this.store.transition(name, now, (s) => {
      if (!s.build && s.state !== 'installing') return null;
      return {
        retireTokensAt: now,
        patch: { build: false, state: 'registered', token: null, tokenExpiresAt: null, stateChangedAt: now },
        event: { run: s.run, time: now, stage: 'failed', message: 'disarmed by operator', source, log: null },
      };
    });
    this.emit(r.system, r.event);
    return r.system;
  }

  /** Returns the system whose live, unexpired token this is and which is in build mode; else NotFoundError. */
  async systemForArtifact(token: string): Promise<System> {
    return (await this.liveRun(token)).system;
  }

  /** Returns the armed system and the token record of a live, unexpired token; else NotFoundError. */
  async liveRun(token: string): Promise<{ system: System; tok: TokenRecord }> {
    const tok = await this.store.findToken(token);
    const s = tok ? await this.store.getSystem(tok.system) : null;
    if (!tok || !s || tok.retiredAt !== null || tok.expiresAt <= this.now() || !s.build || s.token !== token) {
      throw new NotFoundError('unknown or retired token');
    }
    return { system: s, tok };
  }

  /**
   * Lets a fetch of a run's kickstart or script from source go on under the trust policy, and binds
   * the run to source on its first fetch (bind false: look only, as HEAD does). ForbiddenError when
   * the run is bound to another address, also when another address won a race to bind it.
   */
  async admitFetch(system: System, tok: TokenRecord, source: string | null, bind: boolean): Promise<void> {
    if (!this.trust) return;
    const v = this.trust.fetch(tok, source);
    if (!v.ok) throw this.refuse(v, { system: system.name, source, via: 'token fetch' });
    if (!v.bind || !bind) return;
    const from = normalizeAddress(source)!;
    const bound = await this.store.bindToken(tok.token, from);
    if (bound !== from) throw this.refuse({ ok: false, reason: 'run_bound_elsewhere', expected: bound ? [bound] : [] }, { system: system.name, source, via: 'token fetch' });
    if (bound) this.log.info({ system: system.name, run: tok.run, address: bound }, `system ${system.name}: run ${tok.run} bound to ${bound}`);
  }

  /** Counts and logs a refused request and returns the ForbiddenError to answer it with. */
  refuse(v: Extract<Verdict, { ok: false }>, ctx: { system: string; source: string | null; via: string }): ForbiddenError {
    this.refusals.note('trust', v.reason, { ...ctx, expected: v.expected }, `refused ${ctx.via} for system ${ctx.system} from ${ctx.source ?? 'an unknown address'}: ${v.reason.replace(/_/g, ' ')}`);
    return new ForbiddenError(REFUSAL_TEXT[v.reason]);
  }

  /**
   * Returns true when a fetch of this stage would record something. Repeat fetches (anaconda asks
   * twice, boot storms, benchmarks) change nothing: callers check this on the system they just
   * read and skip fetched() and its write transaction, which applies the same rule again.
   */
  fetchChanges(s: System, stage: 'kickstart' | 'script'): boolean {
    return s.build && !(s.state === 'installing' && s.stage === stage);
  }

  /** Records that a system fetched its kickstart or install/rescue script; moves build → installing. */
  async fetched(name: string, stage: 'kickstart' | 'script', source: string | null): Promise<System> {
    const now = this.now();
    const r = await this.store.transition(name, now, (s) => {
      if (!this.fetchChanges(s, stage)) return null;
      return {
        patch: { state: 'installing', stage, stateChangedAt: s.state === 'installing' ? s.stateChangedAt : now, lastEventAt: now },
        event: { run: s.run, time: now, stage, message: null, source, log: null },
      };
    });
    this.emit(r.system, r.event);
    return r.system;
  }

  /** Returns true when a PXE boot of this system would record something (armed, not installing, no pxe yet this run). */
  pxeChanges(s: System): boolean {
    return s.build && s.state === 'build' && s.stage !== 'pxe';
  }

  /** Records a PXE boot of an armed system (once per run), from DHCP or TFTP. */
  async pxe(name: string, source: string | null, message: string | null): Promise<void> {
    // DHCP records the boot and the menu fetch asks again: a repeat skips the write transaction
    // (the cached read is as fresh as fetchChanges' one; the transaction applies the same rule).
    const seen = await this.store.getSystem(name);
    if (seen && !this.pxeChanges(seen)) return;
    const now = this.now();
    const r = await this.store.transition(name, now, (s) => {
      if (!this.pxeChanges(s)) return null;
      return { patch: { stage: 'pxe', lastEventAt: now }, event: { run: s.run, time: now, stage: 'pxe', message, source, log: null } };
    });
    this.emit(r.system, r.event);
  }

  /**
   * Checks a step report before its body is read: a known stage, a token whose run takes it, a
   * source the trust policy accepts, and room under the run's caps. Throws 400/403/404/429.
   */
  async admitReport(token: string, stage: string, source: string | null): Promise<{ system: System; tok: TokenRecord }> {
    if (!REPORTABLE.has(stage)) throw new BadRequestError(`unknown stage ${JSON.stringify(stage)} (one of ${[...REPORTABLE].join(', ')})`, 'stage');
    const tok = await this.store.findToken(token);
    const s = tok ? await this.store.getSystem(tok.system) : null;
    if (!tok || !s) throw new NotFoundError('unknown or retired token');
    const live = tok.retiredAt === null && s.token === token && s.run === tok.run;
    if (!live && !TERMINAL.has(stage)) throw new NotFoundError('unknown or retired token');
    if (this.trust) {
      const v = await this.trust.report(tok, s, stage, source);
      if (!v.ok) throw this.refuse(v, { system: s.name, source, via: `report ${stage}` });
    }
    // A live run's built or failed always counts: it ends the run, so nothing can follow it there.
    if (!(live && (stage === 'built' || stage === 'failed'))) {
      const { eventsPerRun, finalReportsPerRun } = this.limits;
      if ((await this.store.countEvents(s.name, tok.run)) >= eventsPerRun) {
        throw this.limited('events_per_run', { system: s.name, run: tok.run, stage, source }, `run ${tok.run} of system ${s.name} holds its ${eventsPerRun} events (lifecycle.max_events_per_run)`);
      }
      if (TERMINAL.has(stage) && (await this.store.countEvents(s.name, tok.run, TERMINAL_STAGES)) >= finalReportsPerRun) {
        throw this.limited('final_reports_per_run', { system: s.name, run: tok.run, stage, source }, `run ${tok.run} of system ${s.name} holds its ${finalReportsPerRun} built/failed/booted reports (lifecycle.max_final_reports_per_run)`);
      }
    }
    return { system: s, tok };
  }

  /** Counts and logs a limit hit and returns the 429 to answer it with. */
  private limited(limit: string, fields: Record<string, unknown>, what: string): TooManyRequestsError {
    this.refusals.note('limit', limit, fields, `limit reached: ${what}`);
    return new TooManyRequestsError(`limit reached: ${what}`);
  }

  /** Records a report from a guest; returns whether it changed anything. Throws 400/403/404/409/413/429 as documented. */
  async report(token: string, stage: string, input: { message?: string | null; log?: string | null; source: string | null }): Promise<{ system: System; recorded: boolean }> {
    const { tok } = await this.admitReport(token, stage, input.source);
    if (input.log && Buffer.byteLength(input.log) > this.maxLogBytes) throw new PayloadTooLargeError(`installer log over ${this.maxLogBytes} bytes`);
    const message = input.message ? input.message.slice(0, 1000) : null;
    const now = this.now();
    const r = await this.store.transition(tok.system, now, (s) => {
      const ev = { run: tok.run, time: now, stage, message, source: input.source, log: stage === 'failed' ? (input.log ?? null) : null };
      const live = tok.retiredAt === null && s.token === token && s.run === tok.run;
      if (!live) {
        // Late reports of a finished or superseded run: keep the record, never the state.
        if (!TERMINAL.has(stage)) throw new NotFoundError('unknown or retired token');
        if (stage === 'built' && s.run === tok.run && s.state === 'built') return null;
        if (stage === 'booted' && s.run === tok.run) return { patch: { lastEventAt: now }, event: ev };
        return { event: ev };
      }
      // A guest repeating the step it is at (a loop in %post, a retry) adds nothing.
      if (s.state === 'installing' && s.stage === stage && stage !== 'booted') return null;
      if (stage === 'booted') return { patch: { lastEventAt: now }, event: ev };
      if (stage === 'built' || stage === 'failed') {
        return {
          retireTokensAt: now,
          patch: { build: false, state: stage, stage, token: null, tokenExpiresAt: null, stateChangedAt: now, lastEventAt: now },
          event: ev,
        };
      }
      return {
        patch: { state: 'installing', stage, stateChangedAt: s.state === 'installing' ? s.stateChangedAt : now, lastEventAt: now },
        event: ev,
      };
    });
    this.emit(r.system, r.event);
    if (r.event?.log) {
      const dropped = await this.store.trimLogs(r.system.name, this.limits.logBytesPerSystem);
      if (dropped > 0) {
        this.refusals.note('limit', 'log_bytes_per_system', { system: r.system.name, dropped }, `limit reached: installer logs of system ${r.system.name} over ${this.limits.logBytesPerSystem} bytes (lifecycle.max_log_bytes_per_system); dropped the ${dropped} oldest`);
      }
    }
    return { system: r.system, recorded: r.changed };
  }

  /**
   * Records an unknown MAC that PXE-booted as a `discovered` system (idempotent), within the caps
   * per window and in total; returns whether it was recorded.
   */
  async discovered(mac: string, source: string | null): Promise<boolean> {
    const name = `discovered-${mac.replace(/:/g, '')}`;
    if ((await this.store.findSystemsByMacs([mac])).length > 0) return false;
    const now = this.now();
    const { discoveredPerWindow, discoveredWindowMs, discoveredMax } = this.limits;
    const w = this.discoveredWindow;
    if (now - w.start >= discoveredWindowMs) Object.assign(w, { start: now, count: 0 });
    if (w.count >= discoveredPerWindow) {
      this.refusals.note('limit', 'discovered_per_window', { mac, source }, `limit reached: ${discoveredPerWindow} new discovered systems in ${discoveredWindowMs / 1000} s (lifecycle.discovered_per_window); unknown MACs are served but not recorded`);
      return false;
    }
    w.count++;
    if ((await this.store.countSystems(0)).byState.discovered >= discoveredMax) {
      this.refusals.note('limit', 'discovered_max', { mac, source }, `limit reached: ${discoveredMax} discovered systems are kept (lifecycle.discovered_max); unknown MACs are served but not recorded`);
      return false;
    }
    try {
      await this.store.createSystem({ name, macs: [mac], profile: null, state: 'discovered' }, now);
      const r = await this.store.transition(name, now, (s) => ({ event: { run: s.run, time: now, stage: 'pxe', message: 'unknown MAC', source, log: null } }));
      this.emit(r.system, r.event);
      return true;
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
      return false;
    }
  }
}

/** Returns the event list with the time since the previous event of the same run, for timelines. */
export function timeline(events: InstallEvent[]): Array<InstallEvent & { sincePreviousMs: number | null }> {
  return events.map((e, i) => {
    const prev = events[i - 1];
    return { ...e, sincePreviousMs: prev && prev.run === e.run ? e.time - prev.time : null };
  });
}

export { STAGES };
