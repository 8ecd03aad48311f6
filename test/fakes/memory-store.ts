// An in-memory Store for unit tests: same contract as SQLite (the conformance suite proves it).
import { ConflictError, NotFoundError } from '../../server/errors.ts';
import { leaseWriteAllowed, type DhcpLeaseRecord } from '../../server/store/leases.ts';
import { SYSTEM_STATES, type InstallEvent, type NewSystem, type PowerSettingsRecord, type Store, type System, type SystemCounts, type SystemPatch, type TokenRecord, type Transition } from '../../server/store/types.ts';

const clone = <T>(v: T): T => structuredClone(v);

/** Returns a fresh empty in-memory Store. */
export function memoryStore(): MemoryStore {
  return new MemoryStore();
}

/** In-memory implementation of Store. */
export class MemoryStore implements Store {
  private systems = new Map<string, System>();
  private tokens = new Map<string, TokenRecord>();
  private events: InstallEvent[] = [];
  private leases = new Map<string, DhcpLeaseRecord>();
  private power = new Map<string, PowerSettingsRecord>();
  private nextEventId = 1;

  private checkUnique(name: string, macs: string[] | undefined, ip: string | null | undefined): void {
    for (const s of this.systems.values()) {
      if (s.name === name) continue;
      if (macs && s.macs.some((m) => macs.includes(m))) throw new ConflictError(`MAC address already belongs to another system (${macs.join(', ')})`, 'macs');
      if (ip && s.ip === ip) throw new ConflictError(`IP address ${JSON.stringify(ip)} already belongs to another system`, 'ip');
    }
  }

  async createSystem(input: NewSystem, now: number): Promise<System> {
    if (this.systems.has(input.name)) throw new ConflictError(`a system named ${JSON.stringify(input.name)} already exists`, 'name');
    this.checkUnique(input.name, input.macs, input.ip);
    const s: System = {
      name: input.name,
      displayName: input.displayName ?? null,
      macs: [...input.macs],
      ip: input.ip ?? null,
      hostname: input.hostname ?? null,
      profile: input.profile,
      overrides: clone(input.overrides ?? {}),
      build: input.build ?? false,
      state: input.state ?? 'registered',
      stage: null,
      run: 0,
      token: null,
      tokenExpiresAt: null,
      createdAt: now,
      updatedAt: now,
      stateChangedAt: now,
      lastEventAt: null,
    };
    this.systems.set(s.name, s);
    return clone(s);
  }

  async getSystem(name: string) {
    const s = this.systems.get(name);
    return s ? clone(s) : null;
  }

  async listSystems() {
    return [...this.systems.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map(clone);
  }

  async findSystemsByMacs(macs: string[]) {
    return (await this.listSystems()).filter((s) => s.macs.some((m) => macs.includes(m)));
  }

  async findSystemByIp(ip: string) {
    return (await this.listSystems()).find((s) => s.ip === ip) ?? null;
  }

  private patch(name: string, patch: SystemPatch, now: number): System {
    const s = this.systems.get(name);
    if (!s) throw new NotFoundError(`no system named ${JSON.stringify(name)}`);
    this.checkUnique(name, patch.macs, patch.ip);
    const next: System = { ...s, updatedAt: now };
    for (const [k, v] of Object.entries(patch)) if (v !== undefined) (next as unknown as Record<string, unknown>)[k] = clone(v);
    this.systems.set(name, next);
    return next;
  }

  async updateSystem(name: string, patch: SystemPatch, now: number) {
    return clone(this.patch(name, patch, now));
  }

  async renameSystem(name: string, newName: string, now: number) {
    const s = this.systems.get(name);
    if (!s) throw new NotFoundError(`no system named ${JSON.stringify(name)}`);
    if (this.systems.has(newName)) throw new ConflictError(`a system named ${JSON.stringify(newName)} exists`, 'name');
    this.systems.delete(name);
    this.systems.set(newName, { ...s, name: newName, updatedAt: now });
    for (const e of this.events) if (e.system === name) e.system = newName;
    for (const t of this.tokens.values()) if (t.system === name) t.system = newName;
    return clone(this.systems.get(newName)!);
  }

  async deleteSystem(name: string) {
    const had = this.systems.delete(name);
    this.power.delete(name);
    this.events = this.events.filter((e) => e.system !== name);
    for (const [k, t] of this.tokens) if (t.system === name) this.tokens.delete(k);
    return had;
  }

  async transition(name: string, now: number, decide: (s: System) => Transition | null) {
    const before = this.systems.get(name);
    if (!before) throw new NotFoundError(`no system named ${JSON.stringify(name)}`);
    const t = decide(clone(before));
    if (!t) return { system: clone(before), event: null, changed: false };
    if (t.retireTokensAt !== undefined) for (const tok of this.tokens.values()) if (tok.system === name && tok.retiredAt === null) tok.retiredAt = t.retireTokensAt;
    if (t.issueToken) this.tokens.set(t.issueToken.token, { ...t.issueToken, system: name, retiredAt: null, boundIp: null });
    const after = t.patch ? this.patch(name, t.patch, now) : before;
    let event: InstallEvent | null = null;
    if (t.event) {
      event = { id: this.nextEventId++, system: name, ...t.event };
      this.events.push(event);
    }
    return { system: clone(after), event: event && clone(event), changed: true };
  }

  async findToken(token: string) {
    const t = this.tokens.get(token);
    return t ? clone(t) : null;
  }

  async listEvents(name: string, options: { run?: number; limit?: number } = {}) {
    const all = this.events.filter((e) => e.system === name && (options.run === undefined || e.run === options.run));
    return all.slice(-(options.limit ?? 10_000)).map(clone);
  }

  async bindToken(token: string, ip: string) {
    const t = this.tokens.get(token);
    if (!t) return null;
    t.boundIp ??= ip;
    return t.boundIp;
  }

  async countEvents(name: string, run: number, stages?: readonly string[]) {
    return this.events.filter((e) => e.system === name && e.run === run && (!stages || stages.includes(e.stage))).length;
  }

  async trimLogs(name: string, maxBytes: number) {
    let total = 0;
    let dropped = 0;
    for (const e of [...this.events].reverse()) {
      if (e.system !== name || e.log === null) continue;
      total += Buffer.byteLength(e.log);
      if (total > maxBytes) {
        e.log = null;
        dropped++;
      }
    }
    return dropped;
  }

  async countSystems(stalledBefore: number): Promise<SystemCounts> {
    const byState = Object.fromEntries(SYSTEM_STATES.map((s) => [s, 0])) as SystemCounts['byState'];
    let stalled = 0;
    let stalledInstalling = 0;
    for (const s of this.systems.values()) {
      byState[s.state]++;
      if ((s.lastEventAt ?? s.stateChangedAt) >= stalledBefore) continue;
      if (s.state === 'installing') stalledInstalling++;
      if (s.state === 'installing' || (s.state === 'build' && s.stage === 'pxe')) stalled++;
    }
    return { byState, stalled, stalledInstalling };
  }

  async findLeases(macs: string[]) {
    return [...this.leases.values()].filter((l) => macs.includes(l.mac)).sort((a, b) => (a.mac < b.mac ? -1 : a.mac > b.mac ? 1 : a.ip < b.ip ? -1 : 1)).map(clone);
  }

  async getPowerSettings(name: string) {
    const p = this.power.get(name);
    return p ? clone(p) : null;
  }

  async listPowerSettings() {
    return [...this.power.values()].sort((a, b) => (a.system < b.system ? -1 : 1)).map(clone);
  }

  async setPowerSettings(p: Omit<PowerSettingsRecord, 'updatedAt'>, now: number) {
    if (!this.systems.has(p.system)) throw new NotFoundError(`no system named ${JSON.stringify(p.system)}`);
    const rec = { ...clone(p), updatedAt: now };
    this.power.set(p.system, rec);
    return clone(rec);
  }

  async deletePowerSettings(name: string) {
    return this.power.delete(name);
  }

  async loadLeases() {
    return [...this.leases.values()].sort((a, b) => (a.ip < b.ip ? -1 : 1)).map(clone);
  }

  async saveLeases(leases: DhcpLeaseRecord[]) {
    for (const l of leases) this.leases.set(l.ip, clone(l));
  }

  async claimLeases(leases: DhcpLeaseRecord[], now: number) {
    const refused: string[] = [];
    for (const l of leases) {
      if (!leaseWriteAllowed(this.leases.get(l.ip), l, now)) {
        refused.push(l.ip);
        continue;
      }
      this.leases.set(l.ip, clone(l));
      if (l.state !== 'offered' && l.state !== 'bound') continue;
      for (const other of this.leases.values()) {
        if (other.mac === l.mac && other.ip !== l.ip && (other.state === 'offered' || other.state === 'bound')) Object.assign(other, { state: 'released', expiresAt: now, updatedAt: now });
      }
    }
    return refused;
  }

  async close() {}
}

/** Returns a Store whose every call fails, to prove callers turn storage failures into clean errors. */
export function brokenStore(): Store {
  const fail = async (): Promise<never> => {
    throw new Error('store unavailable (broken fake)');
  };
  return {
    createSystem: fail,
    getSystem: fail,
    listSystems: fail,
    findSystemsByMacs: fail,
    findSystemByIp: fail,
    updateSystem: fail,
    deleteSystem: fail,
    transition: fail,
    findToken: fail,
    bindToken: fail,
    listEvents: fail,
    countEvents: fail,
    trimLogs: fail,
    countSystems: fail,
    findLeases: fail,
    getPowerSettings: fail,
    listPowerSettings: fail,
    setPowerSettings: fail,
    deletePowerSettings: fail,
    loadLeases: fail,
    saveLeases: fail,
    claimLeases: fail,
    close: async () => {},
  };
}
