// Loads distro and profile YAML files from a folder, resolves `extends` and validates the result.
// Merge rule (documented in profiles/README.md): maps merge, lists and scalars replace, null unsets.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { parseDocument } from 'yaml';
import type { ZodError, ZodTypeAny } from 'zod';
import { ProfileError } from '../errors.ts';
import { ParseCache } from '../parse-cache.ts';
import { deepFreeze, isPlainMap, mergeMaps } from '../merge.ts';
import { distroFileSchema, profileBodySchema, profileFileSchema, type Distro, type Profile } from './schema.ts';
import { checkProfile, checkProfileForFamily } from './check.ts';

/** Every distro and profile defined by YAML files, resolved and frozen. */
export interface ProfileSet {
  profiles: ReadonlyMap<string, Profile>;
  distros: ReadonlyMap<string, Distro>;
  /** File each name came from (distros as `distro:<name>`), relative to the working directory. */
  files: ReadonlyMap<string, string>;
}

interface RawProfile {
  file: string;
  body: Record<string, unknown>;
}

/** Returns "key: message" for the first issue of a zod error, naming unknown keys. */
export function zodMessage(err: ZodError): { key: string; message: string } {
  const issue = err.issues[0]!;
  const path = issue.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
  if (issue.code === 'unrecognized_keys') {
    const k = issue.keys[0]!;
    return { key: path ? `${path}.${k}` : k, message: `unknown key ${JSON.stringify(k)}` };
  }
  return { key: path || '(top level)', message: issue.message };
}

/** Returns the parsed value or throws ProfileError naming the file and key. */
export function validate<T>(schema: ZodTypeAny, value: unknown, where: string): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    const { key, message } = zodMessage(r.error);
    throw new ProfileError(`${where}: ${key}: ${message}`, key);
  }
  return r.data as T;
}

/** Returns the *.yaml / *.yml files below dir, sorted, skipping dot-files. */
function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    if (entry.startsWith('.')) continue;
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) out.push(...yamlFiles(p));
    else if (/\.ya?ml$/.test(entry)) out.push(p);
  }
  return out;
}

/** Parses one YAML file into a plain map; throws ProfileError with line and column on bad YAML. */
export function parseYamlFile(text: string, where: string): Record<string, unknown> {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const before = text.slice(0, e.pos[0]).split('\n');
    const at = `:${before.length}:${before[before.length - 1]!.length + 1}`;
    throw new ProfileError(`${where}${at}: malformed YAML: ${e.message.split('\n')[0]}`);
  }
  const value: unknown = doc.toJS();
  if (!isPlainMap(value)) throw new ProfileError(`${where}: expected a map with kind: profile or kind: distro`);
  return value;
}

/** Loads and resolves every profile and distro under dir; throws ProfileError on the first problem. */
export function loadProfiles(dir: string): ProfileSet {
  return resolveFiles(readYamlFiles(dir));
}

/** A file to keep the resolved set in between runs, and the key it is valid under (the build id). */
export interface ProfileCache {
  file: string;
  key: string;
}

interface CachedSet {
  profiles: Array<[string, Profile]>;
  distros: Array<[string, Distro]>;
  files: Array<[string, string]>;
}

/**
 * loadProfiles with a cache: parsing YAML and validating it is most of a short command's own work,
 * so the resolved set is kept as JSON (parse-cache.ts) under the cache key and a source made of the
 * working directory (the set names files relative to it) and every file's path and content: any
 * change of a file, of the folder's file list or of the build reads the YAML again. The cache is
 * written only into an existing data folder, so listing profiles never creates one.
 */
export function loadProfilesCached(dir: string, cache: ProfileCache | null): ProfileSet {
  const texts = readYamlFiles(dir);
  if (!cache) return resolveFiles(texts);
  const store = new ParseCache<CachedSet>(existsSync(dirname(dirname(cache.file))) ? cache.file : null, cache.key);
  const source = JSON.stringify([process.cwd(), texts]);
  const c = store.get(source, () => {
    const set = resolveFiles(texts);
    return { profiles: [...set.profiles], distros: [...set.distros], files: [...set.files] };
  });
  store.save();
  return deepFreeze({ profiles: new Map(c.profiles), distros: new Map(c.distros), files: new Map(c.files) });
}

/** Returns [path, text] of every YAML file below dir, in load order. */
function readYamlFiles(dir: string): Array<[string, string]> {
  return yamlFiles(dir).map((path) => [path, readFileSync(path, 'utf8')]);
}

/** Parses, merges and validates the files' texts into a frozen ProfileSet. */
function resolveFiles(texts: Array<[string, string]>): ProfileSet {
  const raws = new Map<string, RawProfile>();
  const distros = new Map<string, Distro>();
  const files = new Map<string, string>();
  for (const [path, text] of texts) {
    const where = relative(process.cwd(), path) || path;
    const doc = parseYamlFile(text, where);
    const kind = doc.kind;
    if (kind === 'distro') {
      const d = validate<Omit<Distro, 'source'>>(distroFileSchema, doc, where);
      if (files.has(`distro:${d.name}`)) throw new ProfileError(`${where}: name: distro ${JSON.stringify(d.name)} is already defined in ${files.get(`distro:${d.name}`)}`, 'name');
      distros.set(d.name, { ...d, source: 'yaml' });
      files.set(`distro:${d.name}`, where);
    } else if (kind === 'profile') {
      const p = validate<Record<string, unknown> & { name: string }>(profileFileSchema, withoutNulls(doc), where);
      if (raws.has(p.name)) throw new ProfileError(`${where}: name: profile ${JSON.stringify(p.name)} is already defined in ${raws.get(p.name)!.file}`, 'name');
      raws.set(p.name, { file: where, body: doc });
      files.set(p.name, where);
    } else {
      throw new ProfileError(`${where}: kind: expected "profile" or "distro", got ${JSON.stringify(kind)}`, 'kind');
    }
  }
  const profiles = new Map<string, Profile>();
  for (const [n, raw] of raws) {
    if (raw.body.abstract === true) continue;
    const { body, parents } = resolveExtends(n, raws);
    const where = parents.length ? `${raw.file} (extends ${parents.join(' → ')})` : raw.file;
    const profile: Profile = { ...validate<Omit<Profile, 'name' | 'parents'>>(profileBodySchema, body, where), name: n, parents };
    checkProfile(profile, where);
    const distro = distros.get(profile.distro);
    if (distro) checkProfileForFamily(profile, distro.family, where);
    profiles.set(n, profile);
  }
  return deepFreeze({ profiles, distros, files });
}

/** Returns a copy without null values: null means "unset the parent's value", checked after merging. */
function withoutNulls(v: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (x === null) continue;
    out[k] = isPlainMap(x) ? withoutNulls(x) : x;
  }
  return out;
}

/** Returns the merged body of a profile and its chain of parents; detects cycles and missing parents. */
function resolveExtends(start: string, raws: Map<string, RawProfile>): { body: Record<string, unknown>; parents: string[] } {
  const chain: RawProfile[] = [];
  const seen: string[] = [];
  let cur: string | undefined = start;
  while (cur !== undefined) {
    if (seen.includes(cur)) {
      throw new ProfileError(`${raws.get(start)!.file}: extends: cycle ${[...seen, cur].join(' → ')}`, 'extends');
    }
    const raw = raws.get(cur);
    if (!raw) {
      const from = chain[chain.length - 1]!;
      throw new ProfileError(`${from.file}: extends: no profile named ${JSON.stringify(cur)}`, 'extends');
    }
    seen.push(cur);
    chain.push(raw);
    cur = raw.body.extends as string | undefined;
  }
  let body: Record<string, unknown> = {};
  for (const raw of chain.reverse()) body = mergeMaps(body, raw.body);
  delete body.kind;
  delete body.name;
  delete body.extends;
  delete body.abstract;
  return { body, parents: seen.slice(1) };
}

/** Returns the profile with a system's overrides merged in and re-validated (400-style error on bad overrides). */
export function applyOverrides(profile: Profile, overrides: Record<string, unknown>, where: string): Profile {
  if (Object.keys(overrides).length === 0) return profile;
  const { name, parents, ...body } = profile;
  const merged = mergeMaps(body as Record<string, unknown>, overrides);
  const resolved: Profile = { ...validate<Omit<Profile, 'name' | 'parents'>>(profileBodySchema, merged, where), name, parents };
  checkProfile(resolved, where);
  return deepFreeze(resolved);
}
