// Loads kickstand.yaml (optional) and KICKSTAND_* environment overrides, validates them once and
// returns a deep-frozen Config. Errors name the file (or variable) and the key.
import { readFileSync, existsSync } from 'node:fs';
import { resolve, dirname, isAbsolute } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { ZodError } from 'zod';
import { ConfigError } from '../errors.ts';
import { configSchema, type Config } from './schema.ts';
import { deepFreeze, isPlainMap, mergeMaps } from '../merge.ts';

export type { Config };

export interface LoadConfigOptions {
  /** Path of the YAML file; when unset, ./kickstand.yaml is used if it exists. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Whether the process runs as root (chooses the TFTP port default). */
  isRoot?: boolean;
}

/** Returns a dotted key path for a zod issue path. */
export function keyPath(path: Array<string | number>): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** Returns the first zod issue as "key: message" text. */
export function describeZodError(err: ZodError): { key: string; message: string } {
  const issue = err.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const key = keyPath([...issue.path, issue.keys[0]!]);
    return { key, message: `unknown key ${JSON.stringify(issue.keys[0])}` };
  }
  return { key: keyPath(issue.path) || '(root)', message: issue.message };
}

/** Variables for kickstand's own test and bench tooling, never configuration. */
export const TOOLING_PREFIXES = ['KICKSTAND_E2E_', 'KICKSTAND_TEST_', 'KICKSTAND_BENCH_'];

/** Sets a dotted path in a plain object, creating maps on the way. */
function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj;
  for (const k of path.slice(0, -1)) {
    if (typeof cur[k] !== 'object' || cur[k] === null) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[path[path.length - 1]!] = value;
}

/** Parses an environment value: JSON literals (numbers, booleans, arrays) or a plain string. */
function parseEnvValue(raw: string): unknown {
  if (/^(true|false|null|-?\d+(\.\d+)?)$/.test(raw) || raw.startsWith('[') || raw.startsWith('{')) {
    try {
      return JSON.parse(raw);
    } catch {
      return raw;
    }
  }
  return raw;
}

/**
 * Returns the env overrides as a nested object: KICKSTAND_HTTP__PORT=9090 sets http.port
 * (double underscore separates levels, single underscores stay in the key).
 */
export function envOverrides(env: NodeJS.ProcessEnv): { values: Record<string, unknown>; sources: Map<string, string> } {
  const values: Record<string, unknown> = {};
  const sources = new Map<string, string>();
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('KICKSTAND_') || raw === undefined || name === 'KICKSTAND_CONFIG') continue;
    if (TOOLING_PREFIXES.some((p) => name.startsWith(p))) continue;
    const path = name.slice('KICKSTAND_'.length).toLowerCase().split('__');
    setPath(values, path, parseEnvValue(raw));
    sources.set(path.join('.'), name);
  }
  return { values, sources };
}

/** Loads, validates and freezes the configuration; throws ConfigError naming file and key. */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const explicit = options.file ?? env.KICKSTAND_CONFIG;
  const file = explicit ? resolve(cwd, explicit) : resolve(cwd, 'kickstand.yaml');
  let fromFile: Record<string, unknown> = {};
  const haveFile = existsSync(file);
  if (explicit && !haveFile) throw new ConfigError(`config file ${file} does not exist`);
  if (haveFile) {
    let parsed: unknown;
    try {
      parsed = parseYaml(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError(`${file}: malformed YAML: ${(err as Error).message.split('\n')[0]}`);
    }
    if (parsed !== null && parsed !== undefined && !isPlainMap(parsed)) {
      throw new ConfigError(`${file}: expected a map of settings at the top level`);
    }
    fromFile = (parsed as Record<string, unknown>) ?? {};
  }
  const { values: fromEnv, sources } = envOverrides(env);
  const result = configSchema.safeParse(mergeMaps(fromFile, fromEnv));
  if (!result.success) {
    const { key, message } = describeZodError(result.error);
    // A list item (dhcp.interface[1]) came from the variable that set the list.
    const source = sources.get(key) ?? sources.get(key.replace(/\[\d+\].*$/, ''));
    const where = source ? `environment ${source}` : haveFile ? file : 'defaults';
    throw new ConfigError(`${where}: ${key}: ${message}`, key);
  }
  const config = result.data;
  const isRoot = options.isRoot ?? (typeof process.getuid === 'function' && process.getuid() === 0);
  if (config.tftp.port === undefined) config.tftp.port = isRoot ? 69 : 6969;
  // Relative folders are relative to the config file's folder (or the working directory).
  const base = haveFile ? dirname(file) : cwd;
  for (const key of ['data_dir', 'profiles_dir', 'isos_dir', 'templates_dir'] as const) {
    if (!isAbsolute(config[key])) config[key] = resolve(base, config[key]);
  }
  config.tftp.roots = config.tftp.roots.map((r) => resolve(base, r));
  if (config.dhcp.mode !== 'off') {
    if (!config.dhcp.server_ip) throw new ConfigError(`${where(haveFile, file)}: dhcp.server_ip: required when dhcp.mode is ${config.dhcp.mode}`, 'dhcp.server_ip');
    if (config.dhcp.mode === 'full' && !config.dhcp.subnet) {
      throw new ConfigError(`${where(haveFile, file)}: dhcp.subnet: required when dhcp.mode is full`, 'dhcp.subnet');
    }
    if (config.dhcp.interface === undefined) {
      throw new ConfigError(`${where(haveFile, file)}: dhcp.interface: required when dhcp.mode is ${config.dhcp.mode} (DHCP answers only on the interfaces named)`, 'dhcp.interface');
    }
  }
  checkLoadBalancing(config, where(haveFile, file));
  if (config.lifecycle.max_log_bytes_per_system < config.lifecycle.max_log_bytes) {
    throw new ConfigError(`${where(haveFile, file)}: lifecycle.max_log_bytes_per_system: must be at least lifecycle.max_log_bytes (${config.lifecycle.max_log_bytes})`, 'lifecycle.max_log_bytes_per_system');
  }
  if (config.metrics.host !== undefined && config.metrics.port === undefined) {
    throw new ConfigError(`${where(haveFile, file)}: metrics.port: required when metrics.host is set`, 'metrics.port');
  }
  return deepFreeze(config);
}

/** Checks dhcp.load_balancing against the rest: this_server among distinct peers, a shared store, a heartbeat shorter than the takeover delay. */
function checkLoadBalancing(config: Config, where: string): void {
  const lb = config.dhcp.load_balancing;
  if (!lb) return;
  if (new Set(lb.peers).size !== lb.peers.length) throw new ConfigError(`${where}: dhcp.load_balancing.peers: each peer must be named once`, 'dhcp.load_balancing.peers');
  if (!lb.peers.includes(lb.this_server)) {
    throw new ConfigError(`${where}: dhcp.load_balancing.this_server: ${JSON.stringify(lb.this_server)} is not one of peers (${lb.peers.join(', ')})`, 'dhcp.load_balancing.this_server');
  }
  if (!config.store.url) throw new ConfigError(`${where}: dhcp.load_balancing: needs store.url (PostgreSQL shared by every peer)`, 'dhcp.load_balancing');
  if (lb.max_response_delay_ms <= 2 * lb.heartbeat_ms) {
    throw new ConfigError(`${where}: dhcp.load_balancing.max_response_delay_ms: must be over twice heartbeat_ms (${lb.heartbeat_ms})`, 'dhcp.load_balancing.max_response_delay_ms');
  }
}

function where(haveFile: boolean, file: string): string {
  return haveFile ? file : 'configuration';
}
