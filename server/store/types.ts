// The Store interface: systems, build tokens, install events and DHCP leases. Implementations:
// SQLite (store/sqlite.ts), PostgreSQL (store/postgres.ts, several instances on one database) and
// an in-memory fake (test/fakes); one conformance suite covers all three.
import type { DhcpLeaseRecord } from './leases.ts';

/** Persisted lifecycle states; `stalled` is derived at read time from the last event's age. */
export const SYSTEM_STATES = ['registered', 'build', 'installing', 'built', 'failed', 'discovered'] as const;
export type SystemState = (typeof SYSTEM_STATES)[number];

/** Install stages a guest or kickstand reports. */
export const STAGES = [
  'armed',
  'pxe',
  'kickstart',
  'script',
  'partitioned',
  'formatted',
  'packages-installed',
  'kernel-installed',
  'bootloader-installed',
  'configured',
  'built',
  'failed',
  'booted',
] as const;
export type Stage = (typeof STAGES)[number];

/** One guest. Times are epoch milliseconds. */
export interface System {
  /** Slug: lowercase, safe in URLs, file names and shell words. */
  name: string;
  /** The name as the operator wrote it when it has capitals (the notes' `NGTest-hvm`), else null. */
  displayName: string | null;
  /** Canonical MACs: lowercase, colon-separated. */
  macs: string[];
  ip: string | null;
  hostname: string | null;
  /** Profile name; null only for `discovered` systems. */
  profile: string | null;
  /** Deep-merged over the profile (same rules as `extends`). */
  overrides: Record<string, unknown>;
  /** Install armed: the next boot installs. */
  build: boolean;
  state: SystemState;
  /** Last step reported in the current run. */
  stage: string | null;
  /** Install run counter; a rebuild starts run + 1. */
  run: number;
  /** Build token of the current run, while armed or installing. */
  token: string | null;
  tokenExpiresAt: number | null;
  createdAt: number;
  updatedAt: number;
  stateChangedAt: number;
  lastEventAt: number | null;
}

/** Fields a caller supplies to create a system. */
export interface NewSystem {
  name: string;
  displayName?: string | null;
  macs: string[];
  ip?: string | null;
  hostname?: string | null;
  profile: string | null;
  overrides?: Record<string, unknown>;
  build?: boolean;
  state?: SystemState;
}

/** Fields that may change after creation (lifecycle fields change through transition()). */
export type SystemPatch = Partial<Pick<System, 'macs' | 'ip' | 'hostname' | 'profile' | 'overrides' | 'build' | 'state' | 'stage' | 'run' | 'token' | 'tokenExpiresAt' | 'stateChangedAt' | 'lastEventAt'>>;

/** Column of each patchable System field (the same in every store's schema). */
export const PATCH_COLUMNS: Record<Exclude<keyof SystemPatch, 'macs'>, string> = {
  ip: 'ip',
  hostname: 'hostname',
  profile: 'profile',
  overrides: 'overrides',
  build: 'build',
  state: 'state',
  stage: 'stage',
  run: 'run',
  token: 'token',
  tokenExpiresAt: 'token_expires_at',
  stateChangedAt: 'state_changed_at',
  lastEventAt: 'last_event_at',
};

/** One reported step of an install run. */
export interface InstallEvent {
  id: number;
  system: string;
  run: number;
  time: number;
  stage: string;
  message: string | null;
  /** Address the report came from. */
  source: string | null;
  /** Installer log attached to a `failed` report (size-limited by the caller). */
  log: string | null;
}

export type NewEvent = Omit<InstallEvent, 'id' | 'system'>;

/** A build token and the run it belongs to; retired tokens stay for late terminal reports. */
export interface TokenRecord {
  token: string;
  system: string;
  run: number;
  createdAt: number;
  expiresAt: number;
  retiredAt: number | null;
  /** Address the run is bound to: the first fetch of its kickstart or script (README "Security"). */
  boundIp: string | null;
}

/** What a transition function decides, applied atomically by the store. */
export interface Transition {
  patch?: SystemPatch;
  event?: NewEvent;
  /** Issue this token for the system's run. */
  issueToken?: Omit<TokenRecord, 'system' | 'retiredAt' | 'boundIp'>;
  /** Retire every live token of the system at this time. */
  retireTokensAt?: number;
}

/** A change another process committed, as a store's change feed reports it. */
export interface RemoteChange {
  /** Systems whose row, MACs or tokens changed (the read cache has already dropped them). */
  systems: string[];
  /** Install events recorded, without the installer log. */
  events: InstallEvent[];
}

/** One instance sharing the database, as its heartbeat row says (ages by the database's clock). */
export interface InstanceBeat {
  name: string;
  /** Milliseconds since its last heartbeat. */
  ageMs: number;
}

/** One page of systems in name order, for operators' lists (fleet.ts). */
export interface SystemQuery {
  /** Only names after this one (the cursor). */
  after?: string;
  limit: number;
  /** Case-insensitive substring of the name, hostname, IP or one of the MACs. */
  search?: string;
  /** Only these stored states. */
  states?: readonly SystemState[];
}

/** How many systems are stored in each state, and how many of them show as stalled (metrics, fleet counts, caps). */
export interface SystemCounts {
  byState: Record<SystemState, number>;
  /** Quiet (last event, or state change) since before the time asked about: installing, or armed with `pxe` as the last step. */
  stalled: number;
  /** The installing ones among the stalled. */
  stalledInstalling: number;
}

/** A system's own power settings as stored; the secret is sealed (power/secret-box.ts), never plain. */
export interface PowerSettingsRecord {
  system: string;
  driver: string | null;
  address: string | null;
  user: string | null;
  secret: string | null;
  /** Driver options: port, domain, uefi, boot, config_dir. */
  options: Record<string, unknown>;
  updatedAt: number;
}

/** Persistence for systems, tokens, events and leases. Every method is atomic. */
export interface Store {
  createSystem(input: NewSystem, now: number): Promise<System>;
  getSystem(name: string): Promise<System | null>;
  listSystems(): Promise<System[]>;
  /** Returns one page of systems by name; optional: fleet.ts filters listSystems() where a store has none. */
  listSystemsPage?(query: SystemQuery): Promise<System[]>;
  findSystemsByMacs(macs: string[]): Promise<System[]>;
  findSystemByIp(ip: string): Promise<System | null>;
  /** Updates fields; throws NotFoundError or ConflictError (duplicate MAC). */
  updateSystem(name: string, patch: SystemPatch, now: number): Promise<System>;
  deleteSystem(name: string): Promise<boolean>;
  /** Renames a system, its MACs, tokens and events going with it; throws NotFoundError, or ConflictError when newName is taken. Optional: a store without it cannot rename. */
  renameSystem?(name: string, newName: string, now: number): Promise<System>;
  /**
   * Reads the system, calls decide(system) and applies what it returns in one transaction;
   * decide returning null changes nothing. Returns the system after, and the event written.
   */
  transition(name: string, now: number, decide: (s: System) => Transition | null): Promise<{ system: System; event: InstallEvent | null; changed: boolean }>;
  findToken(token: string): Promise<TokenRecord | null>;
  /** Binds a token's run to an address unless it is bound already; returns the address it is bound to, null for an unknown token. */
  bindToken(token: string, ip: string): Promise<string | null>;
  listEvents(name: string, options?: { run?: number; limit?: number }): Promise<InstallEvent[]>;
  /** Returns how many events one run of a system holds, only those of the given stages when set. */
  countEvents(name: string, run: number, stages?: readonly string[]): Promise<number>;
  /** Drops the installer logs of a system's oldest events until the rest hold at most maxBytes (UTF-8); returns how many were dropped. */
  trimLogs(name: string, maxBytes: number): Promise<number>;
  /** Returns systems counted by state and the stalled ones (quiet since before stalledBefore) without reading every system. */
  countSystems(stalledBefore: number): Promise<SystemCounts>;
  /** Returns the stored leases of these MACs (any state). */
  findLeases(macs: string[]): Promise<DhcpLeaseRecord[]>;
  /** Returns a system's power settings, or null when it has none. */
  getPowerSettings(name: string): Promise<PowerSettingsRecord | null>;
  /** Returns the power settings of every system that has some, by system name. */
  listPowerSettings(): Promise<PowerSettingsRecord[]>;
  /** Replaces a system's power settings; NotFoundError when the system does not exist. Removed with the system. */
  setPowerSettings(settings: Omit<PowerSettingsRecord, 'updatedAt'>, now: number): Promise<PowerSettingsRecord>;
  deletePowerSettings(name: string): Promise<boolean>;
  /** Returns every lease row (one per address). */
  loadLeases(): Promise<DhcpLeaseRecord[]>;
  /** Writes each lease as given, keyed by its address (restores, copies). */
  saveLeases(leases: DhcpLeaseRecord[]): Promise<void>;
  /**
   * Writes each lease unless the database says its address belongs to someone else at `now`
   * (see leaseWriteAllowed); an offered or bound lease releases the client's other live leases.
   * Returns the addresses refused. Safe between instances: the check and the write are one step.
   */
  claimLeases(leases: DhcpLeaseRecord[], now: number): Promise<string[]>;
  /** Subscribes to changes other processes commit (PostgreSQL LISTEN/NOTIFY); absent where there is no such feed. */
  onRemoteChange?(fn: (change: RemoteChange) => void): () => void;
  /** Records this instance's heartbeat and returns every instance's (PostgreSQL only: instances sharing one database). */
  heartbeat?(name: string): Promise<InstanceBeat[]>;
  close(): Promise<void>;
}
