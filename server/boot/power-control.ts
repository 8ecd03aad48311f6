// Power control as policy: which driver and settings a system gets (its own over its profile's
// defaults), what a rebuild with --reboot does (arm, next boot, power-cycle), and what lands in the
// timeline (`power-cycled`, `power-on`, `power-off`, or `power-failed` with the driver's words).
// The drivers in power/ know none of this.
import { readFileSync } from 'node:fs';
import type { Logger } from '../log.ts';
import { ConflictError, KickstandError, NotFoundError, PowerError } from '../errors.ts';
import type { ProfileRegistry } from '../profiles/registry.ts';
import { parseBody } from '../profiles/system-input.ts';
import type { InstallEvent, PowerSettingsRecord, System } from '../store/types.ts';
import { createDriver, type DriverFactory, type DriverOptions } from '../power/drivers.ts';
import { mapLimit } from '../power/limit.ts';
import type { SecretBox } from '../power/secret-box.ts';
import { checkForDriver, mergeTarget, optionsOf, powerSettingsSchema, settingsView, type PowerDefaults, type PowerSettingsInput, type StoredPower } from '../power/settings.ts';
import type { PowerAction, PowerDriver, PowerDriverName, PowerState, PowerTarget } from '../power/types.ts';
import type { Lifecycle } from './lifecycle.ts';

/** How many machines a bulk rebuild or a status poll talks to at once. */
export const DEFAULT_POWER_CONCURRENCY = 4;

/** Events power control records, by action. */
const DONE_STAGE: Record<Exclude<PowerAction, 'status'>, string> = { on: 'power-on', off: 'power-off', cycle: 'power-cycled' };

export interface PowerControlOptions {
  lifecycle: Lifecycle;
  registry: ProfileRegistry;
  secrets: SecretBox;
  log: Logger;
  /** Returns a system's xl config as rendered now (for the xen driver). */
  xlConfig?: (system: System) => string | Promise<string>;
  drivers?: Omit<DriverOptions, 'xenConfig'>;
  /** Tests pass a factory of fakes. */
  createDriver?: DriverFactory;
  concurrency?: number;
  /** Called after every recorded power event (metrics, live dashboard). */
  onEvent?: (system: System, event: InstallEvent) => void;
  /** Called after every power action, for metrics. */
  onAction?: (driver: PowerDriverName, action: PowerAction, ok: boolean) => void;
}

/** The last power state seen for a system. */
export interface PowerStatus {
  state: PowerState | 'unknown';
  checkedAt: number | null;
  error: string | null;
}

/** One system's result in a bulk rebuild. */
export interface BulkResult {
  system: string;
  ok: boolean;
  run: number | null;
  error: { code: string; message: string } | null;
}

/** Power settings, actions and rebuild-with-reboot over the store, profiles and drivers. */
export class PowerControl {
  private readonly states = new Map<string, PowerStatus>();
  /** Systems in states by state, kept as states change, so /metrics reads three numbers however many systems there are. */
  private readonly counts: Record<PowerStatus['state'], number> = { on: 0, off: 0, unknown: 0 };
  private readonly factory: DriverFactory;
  readonly concurrency: number;

  constructor(private readonly o: PowerControlOptions) {
    this.factory = o.createDriver ?? createDriver;
    this.concurrency = o.concurrency ?? DEFAULT_POWER_CONCURRENCY;
  }

  private get store() {
    return this.o.lifecycle.store;
  }

  private async system(name: string): Promise<System> {
    const s = await this.store.getSystem(name);
    if (!s) throw new NotFoundError(`no system named ${JSON.stringify(name)}`);
    return s;
  }

  /** Returns the profile's power defaults for a system (none when it has no usable profile). */
  private defaults(s: System): PowerDefaults | undefined {
    if (!s.profile || !this.o.registry.profile(s.profile)) return undefined;
    return this.o.registry.resolve(s.profile, s.overrides, `system ${s.name} overrides`).power;
  }

  /** Returns a system's stored settings, secret sealed. */
  private async own(name: string): Promise<StoredPower | null> {
    const r = await this.store.getPowerSettings(name);
    return r ? { driver: r.driver as PowerDriverName | null, address: r.address, user: r.user, secret: r.secret, options: r.options } : null;
  }

  /** Returns what operators see: the system's own settings and the merged ones, no secret, and the last state. */
  async view(name: string) {
    const s = await this.system(name);
    const own = await this.own(name);
    const defaults = this.defaults(s);
    const { secret: _secret, system: _system, configDir, ...merged } = mergeTarget(name, own, defaults, null);
    return {
      system: name,
      settings: settingsView(own),
      effective: { ...merged, config_dir: configDir, secretSet: Boolean(own?.secret ?? defaults?.secret_file) },
      status: this.status(name),
    };
  }

  /** Replaces a system's settings from an API or CLI body; a missing secret keeps the stored one, null clears it. */
  async setSettings(name: string, body: unknown): Promise<void> {
    const input = parseBody<PowerSettingsInput>(powerSettingsSchema, body);
    const s = await this.system(name);
    const old = await this.own(name);
    const secret = input.secret === undefined ? (old?.secret ?? null) : input.secret === null ? null : this.o.secrets.seal(input.secret);
    const next: StoredPower = { driver: input.driver ?? null, address: input.address ?? null, user: input.user ?? null, secret, options: optionsOf(input) };
    const defaults = this.defaults(s);
    const merged = mergeTarget(name, next, defaults, null);
    checkForDriver(merged.driver, merged.address, Boolean(secret ?? defaults?.secret_file));
    const rec: Omit<PowerSettingsRecord, 'updatedAt'> = { system: name, ...next, options: next.options as Record<string, unknown> };
    await this.store.setPowerSettings(rec, this.o.lifecycle.now());
    this.forget(name);
    this.o.log.info({ system: name, driver: merged.driver, address: merged.address }, `system ${name}: power settings changed`);
  }

  /** Removes a system's own settings (profile defaults still apply). */
  async clearSettings(name: string): Promise<boolean> {
    await this.system(name);
    this.forget(name);
    return this.store.deletePowerSettings(name);
  }

  /** Returns the driver's target for a system, secret opened; ConflictError when no driver is set. */
  async target(s: System): Promise<PowerTarget> {
    const own = await this.own(s.name);
    const defaults = this.defaults(s);
    let secret: string | null = null;
    if (own?.secret) secret = this.o.secrets.open(own.secret);
    else if (defaults?.secret_file) {
      try {
        secret = readFileSync(defaults.secret_file, 'utf8').replace(/\r?\n$/, '');
      } catch (err) {
        throw new PowerError(`power secret_file ${defaults.secret_file} of profile ${s.profile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    }
    const t = mergeTarget(s.name, own, defaults, secret);
    if (!t.driver) throw new ConflictError(`system ${JSON.stringify(s.name)} has no power driver; set one (kickstand system power-set ${s.name} --driver ipmi|libvirt|xen …) or in its profile's power block`, 'power.driver');
    return { ...t, driver: t.driver };
  }

  private driverFor(s: System, t: PowerTarget): PowerDriver {
    return this.factory(t, { ...this.o.drivers, xenConfig: async () => this.xl(s.name) });
  }

  /** Renders the system's xl config as it stands now (armed: install boot order; built: disk). */
  private async xl(name: string): Promise<string> {
    if (!this.o.xlConfig) throw new PowerError('xen: this kickstand cannot render xl configs here');
    return await this.o.xlConfig(await this.system(name));
  }

  /** Records a power event in the system's timeline (current run) and tells the listeners. */
  private async record(name: string, stage: string, message: string, source: string | null): Promise<void> {
    const now = this.o.lifecycle.now();
    const r = await this.store.transition(name, now, (s) => ({ event: { run: s.run, time: now, stage, message: message.slice(0, 1000), source, log: null } }));
    if (!r.event) return;
    const line = { system: name, stage, source };
    if (stage === 'power-failed') this.o.log.warn(line, `system ${name}: ${stage}: ${message}`);
    else this.o.log.info(line, `system ${name}: ${stage}: ${message}`);
    this.o.onEvent?.(r.system, r.event);
  }

  private remember(name: string, state: PowerStatus['state'], error: string | null): void {
    this.forget(name);
    this.states.set(name, { state, checkedAt: this.o.lifecycle.now(), error });
    this.counts[state]++;
  }

  /** Drops the last state seen for a system (its settings changed, or it is no longer under power control). */
  private forget(name: string): void {
    const old = this.states.get(name);
    if (!old) return;
    this.counts[old.state]--;
    this.states.delete(name);
  }

  /** Returns the last state seen for a system (unknown until asked). */
  status(name: string): PowerStatus {
    return this.states.get(name) ?? { state: 'unknown', checkedAt: null, error: null };
  }

  /** Returns how many systems were last seen on, off or unknown (the last ask failed); systems not asked yet are not counted. */
  stateCounts(): Record<PowerStatus['state'], number> {
    return { ...this.counts };
  }

  /** Runs one operator action; on/off/cycle are recorded in the timeline, a failure as `power-failed`. Returns the state after. */
  async act(name: string, action: PowerAction, source: string | null): Promise<PowerState> {
    const s = await this.system(name);
    const t = await this.target(s);
    const d = this.driverFor(s, t);
    try {
      if (action !== 'status') await d[action]();
      const state = action === 'status' ? await d.status() : action === 'off' ? 'off' : 'on';
      this.remember(name, state, null);
      this.o.onAction?.(t.driver, action, true);
      if (action !== 'status') await this.record(name, DONE_STAGE[action], `${t.driver}: power ${action}`, source);
      return state;
    } catch (err) {
      this.o.onAction?.(t.driver, action, false);
      this.remember(name, 'unknown', (err as Error).message);
      if (action !== 'status') await this.record(name, 'power-failed', `power ${action}: ${(err as Error).message}`, source);
      throw err;
    }
  }

  /** Arms a fresh install; with reboot, sets the next boot and power-cycles. A power failure leaves the install armed and throws. */
  async rebuild(name: string, o: { reboot: boolean; source: string | null; reason: string }): Promise<System> {
    const armed = await this.o.lifecycle.arm(name, o.source, o.reason);
    if (!o.reboot) return armed;
    let driver: PowerDriverName | null = null;
    try {
      const t = await this.target(armed);
      driver = t.driver;
      const d = this.driverFor(armed, t);
      await d.setNextBoot(t.boot);
      await d.cycle();
      this.remember(name, 'on', null);
      this.o.onAction?.(t.driver, 'cycle', true);
      await this.record(name, 'power-cycled', `${t.driver}: next boot ${t.boot}, power-cycled for the install`, o.source);
    } catch (err) {
      if (driver) this.o.onAction?.(driver, 'cycle', false);
      const message = (err as Error).message;
      this.remember(name, 'unknown', message);
      await this.record(name, 'power-failed', `rebuild --reboot: ${message}; the install stays armed`, o.source);
      if (err instanceof KickstandError) throw err;
      throw new PowerError(message, { cause: err });
    }
    return (await this.store.getSystem(name)) ?? armed;
  }

  /** Rebuilds a list of systems, at most `concurrency` at a time; one failure does not stop the others. */
  async rebuildMany(names: string[], o: { reboot: boolean; source: string | null; reason: string; concurrency?: number }): Promise<BulkResult[]> {
    return mapLimit(names, o.concurrency ?? this.concurrency, async (system) => {
      try {
        const s = await this.rebuild(system, o);
        return { system, ok: true, run: s.run, error: null };
      } catch (err) {
        const e = err instanceof KickstandError ? { code: err.code, message: err.message } : { code: 'internal', message: (err as Error).message };
        const run = (await this.store.getSystem(system).catch(() => null))?.run ?? null;
        return { system, ok: false, run, error: e };
      }
    });
  }

  /** Called when a system reported built: the driver undoes install-only boot settings (libvirt: disk first; xen: boot `c`). */
  async installDone(name: string): Promise<void> {
    const s = await this.store.getSystem(name);
    if (!s) return;
    let t: PowerTarget;
    try {
      t = await this.target(s);
    } catch (err) {
      if (err instanceof ConflictError) return; // no power control for this system
      throw err;
    }
    try {
      await this.driverFor(s, t).installDone();
    } catch (err) {
      await this.record(name, 'power-failed', `after built: ${(err as Error).message}`, null);
    }
  }

  /** Returns the systems under power control: with settings of their own or a driver from their profile. */
  async controlled(): Promise<System[]> {
    const own = new Set((await this.store.listPowerSettings()).map((p) => p.system));
    const hasDefault = (s: System) => {
      try {
        return Boolean(this.defaults(s)?.driver);
      } catch {
        return false; // overrides that no longer resolve: the system page says why
      }
    };
    return (await this.store.listSystems()).filter((s) => own.has(s.name) || hasDefault(s));
  }

  /** Asks every system under power control for its state, a few at a time. */
  async refresh(): Promise<void> {
    const controlled = await this.controlled();
    // A system deleted or no longer under power control stops being counted.
    const names = new Set(controlled.map((s) => s.name));
    for (const name of [...this.states.keys()]) if (!names.has(name)) this.forget(name);
    await mapLimit(controlled, this.concurrency, async (s) => {
      try {
        const t = await this.target(s);
        this.remember(s.name, await this.driverFor(s, t).status(), null);
      } catch (err) {
        this.remember(s.name, 'unknown', (err as Error).message);
      }
    });
  }
}
