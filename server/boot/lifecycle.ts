// The build lifecycle: arming (rebuild), artifact fetches, step reports, built/failed, booted and
// discovered machines. Every change is one Store transition; the rules live only here.
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.ts';
import { BadRequestError, ConflictError, NotFoundError, PayloadTooLargeError } from '../errors.ts';
import { STAGES, type InstallEvent, type Store, type System } from '../store/types.ts';

/** Stages a guest may report over the callback URL: every stage but those kickstand records itself. */
export const REPORTABLE: ReadonlySet<string> = new Set<string>(STAGES.filter((s) => !['armed', 'pxe', 'kickstart', 'script'].includes(s)));
/** Reports accepted from a retired or expired token: an install must never loop on a clock. */
const TERMINAL: ReadonlySet<string> = new Set(['built', 'failed', 'booted']);

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
  private readonly tokenTtlMs: number;
  readonly stallMs: number;
  readonly maxLogBytes: number;
  private readonly onEvent?: LifecycleOptions['onEvent'];

  constructor(o: LifecycleOptions) {
    this.store = o.store;
    this.log = o.log;
    this.clock = o.clock ?? Date.now;
    this.tokenTtlMs = o.tokenTtlMs ?? 24 * 3600_000;
    this.stallMs = o.stallMs ?? 30 * 60_000;
    this.maxLogBytes = o.maxLogBytes ?? 1024 * 1024;
    this.onEvent = o.onEvent;
  }

  /** Returns the current time of the lifecycle's clock. */
  now(): number {
    return this.clock();
  }

  /** Returns the state to show: `stalled` when installing with no event for stallMs. */
  displayState(s: System): DisplayState {
    if (s.state === 'installing' && this.now() - (s.lastEventAt ?? s.stateChangedAt) > this.stallMs) return 'stalled';
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
    const tok = await this.store.findToken(token);
    const s = tok ? await this.store.getSystem(tok.system) : null;
    if (!tok || !s || tok.retiredAt !== null || tok.expiresAt <= this.now() || !s.build || s.token !== token) {
      throw new NotFoundError('unknown or retired token');
    }
    return s;
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

  /** Records a PXE boot of an armed system (once per run), from DHCP or TFTP. */
  async pxe(name: string, source: string | null, message: string | null): Promise<void> {
    const pxeChanges = (s: System) => s.build && s.state === 'build' && s.stage !== 'pxe';
    // DHCP, TFTP and iPXE each report the same boot: the repeats are answered from the (cached) read, never a write transaction.
    const seen = await this.store.getSystem(name);
    if (seen && !pxeChanges(seen)) return;
    const now = this.now();
    const r = await this.store.transition(name, now, (s) => {
      if (!pxeChanges(s)) return null;
      return { patch: { stage: 'pxe', lastEventAt: now }, event: { run: s.run, time: now, stage: 'pxe', message, source, log: null } };
    });
    this.emit(r.system, r.event);
  }

  /** Records a report from a guest; returns whether it changed state. Throws 400/404/409/413 as documented. */
  async report(token: string, stage: string, input: { message?: string | null; log?: string | null; source: string | null }): Promise<{ system: System; recorded: boolean }> {
    if (!REPORTABLE.has(stage)) throw new BadRequestError(`unknown stage ${JSON.stringify(stage)} (one of ${[...REPORTABLE].join(', ')})`, 'stage');
    if (input.log && Buffer.byteLength(input.log) > this.maxLogBytes) throw new PayloadTooLargeError(`installer log over ${this.maxLogBytes} bytes`);
    const message = input.message ? input.message.slice(0, 1000) : null;
    const tok = await this.store.findToken(token);
    if (!tok) throw new NotFoundError('unknown or retired token');
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
    return { system: r.system, recorded: r.changed };
  }

  /** Records an unknown MAC that PXE-booted as a `discovered` system (idempotent). */
  async discovered(mac: string, source: string | null): Promise<void> {
    const name = `discovered-${mac.replace(/:/g, '')}`;
    if ((await this.store.findSystemsByMacs([mac])).length > 0) return;
    try {
      const now = this.now();
      await this.store.createSystem({ name, macs: [mac], profile: null, state: 'discovered' }, now);
      const r = await this.store.transition(name, now, (s) => ({ event: { run: s.run, time: now, stage: 'pxe', message: 'unknown MAC', source, log: null } }));
      this.emit(r.system, r.event);
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
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
