// Shared fixtures of the render tests: the example profiles (profiles/) plus the test profiles
// beside this file, one fixed system, and every case the golden files cover.
import { join } from 'node:path';
import { loadProfiles, applyOverrides } from '../../server/profiles/load.ts';
import type { Distro, Family, Profile } from '../../server/profiles/schema.ts';
import type { System } from '../../server/store/types.ts';
import { buildContext, type RenderContext } from '../../server/render/context.ts';
import type { SiteNetwork } from '../../server/render/network.ts';
import { loadRenderer, type Renderer } from '../../server/render/renderer.ts';
import { silentLogger } from '../../server/log.ts';

export const REPO = new URL('../../', import.meta.url).pathname;
export const TEMPLATES = join(REPO, 'templates');
export const GOLDEN = join(REPO, 'test/fixtures/golden');
export const BASE = 'http://10.0.0.1:8080';
export const TOKEN = 'tok3n-golden-0001';

/** The notes' guest as a kickstand system: NGTest-hvm (slug ngtest-hvm) with the notes' MAC. */
export function fixedSystem(over: Partial<System> = {}): System {
  return {
    name: 'ngtest-hvm',
    displayName: 'NGTest-hvm',
    macs: ['00:16:3e:84:b5:99'],
    ip: null,
    hostname: 'ngtest-hvm.example.org',
    profile: 'centos44-hvm',
    overrides: {},
    build: true,
    state: 'build',
    stage: null,
    run: 1,
    token: TOKEN,
    tokenExpiresAt: null,
    createdAt: 0,
    updatedAt: 0,
    stateChangedAt: 0,
    lastEventAt: null,
    ...over,
  };
}

/** Returns the example profiles and distros plus the test ones. */
export function allProfiles(): { profiles: Map<string, Profile>; distros: Map<string, Distro>; examples: string[] } {
  const examples = loadProfiles(join(REPO, 'profiles'));
  const extra = loadProfiles(new URL('./profiles/', import.meta.url).pathname);
  return {
    profiles: new Map([...examples.profiles, ...extra.profiles]),
    distros: new Map([...examples.distros, ...extra.distros]),
    examples: [...examples.profiles.keys()],
  };
}

/** One golden case: a folder name and the context rendered into it. */
export interface Case {
  id: string;
  ctx: RenderContext;
}

/** Returns the context of a profile (optionally forced to another kickstart family) for the fixed system. */
export function contextFor(profileName: string, options: { family?: Family; armed?: boolean; system?: Partial<System>; bootMac?: string; site?: SiteNetwork } = {}): RenderContext {
  const { profiles, distros } = allProfiles();
  let profile = profiles.get(profileName)!;
  let distro = distros.get(profile.distro)!;
  if (options.family) {
    distro = { ...distro, family: options.family };
    profile = applyOverrides(profile, { kickstart: options.family }, `test family ${options.family}`);
  }
  if (options.system?.overrides) profile = applyOverrides(profile, options.system.overrides, 'test system overrides');
  const armed = options.armed ?? true;
  return buildContext({
    system: fixedSystem({ profile: profileName, build: armed, token: armed ? TOKEN : null, ...options.system }),
    profile,
    distro,
    urls: { base: BASE },
    token: armed ? TOKEN : null,
    bootMac: options.bootMac ?? null,
    site: options.site ?? null,
  });
}

/** The address the demanding profiles' static network line takes. */
export const STATIC_IP = '192.168.50.20';

/** Returns the context of a profile with the system options its golden case uses (demanding profiles: a fixed ip). */
export function caseContext(name: string, options: { family?: Family; armed?: boolean } = {}): RenderContext {
  return contextFor(name, { ...options, system: name.startsWith('demanding-') ? { ip: STATIC_IP } : {} });
}

/** Returns every golden case: each profile armed and not armed, and the kickstart families no example uses. */
export function goldenCases(): Case[] {
  const { profiles } = allProfiles();
  const cases: Case[] = [];
  for (const name of [...profiles.keys()].sort()) {
    cases.push({ id: name, ctx: caseContext(name) });
    cases.push({ id: `${name}.not-armed`, ctx: caseContext(name, { armed: false }) });
  }
  cases.push({ id: 'centos44-hvm.built', ctx: contextFor('centos44-hvm', { armed: false, system: { state: 'built' } }) });
  for (const family of ['el5', 'el6'] as const) cases.push({ id: `centos44-hvm.as-${family}`, ctx: contextFor('centos44-hvm', { family }) });
  for (const family of ['el7', 'el8'] as const) cases.push({ id: `el9-kvm.as-${family}`, ctx: contextFor('el9-kvm', { family }) });
  for (const family of ['el6', 'el7'] as const) cases.push({ id: `uefi-kvm.as-${family}`, ctx: contextFor('uefi-kvm', { family }) });
  cases.push({ id: 'hybrid-kvm.as-el7', ctx: contextFor('hybrid-kvm', { family: 'el7' }) });
  return cases;
}

let shared: Promise<Renderer> | undefined;
/** Returns the renderer over the repository's templates (loaded once per test file). */
export function renderer(): Promise<Renderer> {
  shared ??= loadRenderer({ templatesDir: TEMPLATES, log: silentLogger() });
  return shared;
}
