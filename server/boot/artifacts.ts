// Resolves a system to the data its artifacts need (profile with overrides, distro, URLs) and
// renders them, caching each render under the system's state so boot storms cost one render each.
import { ConflictError, NotFoundError } from '../errors.ts';
import type { ProfileRegistry } from '../profiles/registry.ts';
import type { Distro, Profile } from '../profiles/schema.ts';
import type { System } from '../store/types.ts';
import { ARTIFACT_KINDS, type ArtifactKind } from '../render/artifacts.ts';

export { ARTIFACT_KINDS, type ArtifactKind };

/** What a template renderer is given for one system. */
export interface ArtifactInput {
  system: System;
  profile: Profile;
  distro: Distro;
  /** Base URL guests reach kickstand at, e.g. http://10.0.0.1:8080 (no trailing slash). */
  base: string;
  /** Live build token, or null when the system is not armed (menus then boot locally). */
  token: string | null;
  /** The system's MAC the request came from (iPXE's BOOTIF names it); null: its first MAC. */
  bootMac?: string | null;
}

/** Renders one artifact kind from an ArtifactInput (the render module implements this). */
export interface ArtifactRenderer {
  render(kind: ArtifactKind, input: ArtifactInput): string;
  /** Renders the menu for machines kickstand does not know (local boot). */
  renderDefault(kind: 'pxelinux' | 'ipxe' | 'grub', base: string): string;
  /** Renders the iPXE entry script that chains to the per-MAC script. */
  renderEntry(base: string): string;
  /** Renders GRUB's $prefix/grub.cfg, which loads the per-MAC GRUB config. */
  renderGrubEntry(base: string): string;
}

/** Returns true when s names an artifact kind. */
export function isArtifactKind(s: string): s is ArtifactKind {
  return (ARTIFACT_KINDS as readonly string[]).includes(s);
}

/**
 * One cached render: its UTF-8 bytes, what the HTTP path writes. The text is decoded again when
 * asked for (TFTP menus, the API): keeping both doubled what 10,000 cached kickstarts held.
 */
interface Rendered {
  bytes: Buffer;
}

/** Renders artifacts for systems, with a small cache keyed by everything the output depends on. */
export class Artifacts {
  private cache = new Map<string, Rendered>();
  private byObject = new WeakMap<System, Partial<Record<ArtifactKind, { generation: number; base: string; out: Rendered }>>>();
  private generation = 0;
  /** Resolved profile and distro by profile name and overrides: every system of a profile shares one (a merge, a check and a distro lookup each render otherwise). */
  private resolved = new Map<string, { profile: Profile; distro: Distro }>();

  constructor(
    private readonly registry: ProfileRegistry,
    private renderer: ArtifactRenderer,
    private readonly maxEntries = 5000,
  ) {}

  /** Drops every cached render (profiles or templates changed). */
  invalidate(): void {
    this.generation++;
    this.cache.clear();
    this.resolved.clear();
  }

  /** Returns the system's resolved profile and distro; 409 when the profile or distro is missing. */
  resolve(system: System): { profile: Profile; distro: Distro } {
    if (!system.profile) throw new ConflictError(`system ${JSON.stringify(system.name)} has no profile`, 'profile');
    const key = `${system.profile}\0${JSON.stringify(system.overrides)}`;
    const known = this.resolved.get(key);
    if (known) return known;
    const out = this.resolveNow(system, system.profile);
    if (this.resolved.size >= this.maxEntries) this.resolved.delete(this.resolved.keys().next().value as string);
    this.resolved.set(key, out);
    return out;
  }

  private resolveNow(system: System, profileName: string): { profile: Profile; distro: Distro } {
    let profile: Profile;
    try {
      profile = this.registry.resolve(profileName, system.overrides, `system ${system.name} overrides`);
    } catch (err) {
      if (err instanceof NotFoundError) throw new ConflictError(`system ${JSON.stringify(system.name)} names profile ${JSON.stringify(system.profile)}, which does not exist`, 'profile');
      throw err;
    }
    const distro = this.registry.distro(profile.distro);
    if (!distro) throw new ConflictError(`profile ${JSON.stringify(profile.name)} names distro ${JSON.stringify(profile.distro)}, which is not defined and not found in isos/`, 'distro');
    return { profile, distro };
  }

  /** Returns the rendered artifact; the live token is used only while the system is armed; bootMac is the system's MAC that asked (iPXE). */
  render(kind: ArtifactKind, system: System, base: string, bootMac: string | null = null): string {
    if (bootMac !== null && bootMac !== system.macs[0]) return this.renderedByKey(kind, system, base, bootMac).bytes.toString('utf8');
    return this.rendered(kind, system, base).bytes.toString('utf8');
  }

  /** Returns the rendered artifact as UTF-8 bytes, encoded once per cached render (the HTTP path). */
  renderBytes(kind: ArtifactKind, system: System, base: string): Buffer {
    return this.rendered(kind, system, base).bytes;
  }

  private rendered(kind: ArtifactKind, system: System, base: string): Rendered {
    // A frozen System (the store's cached read) cannot change, so the object itself identifies the
    // render: look it up by identity before building and hashing the string key.
    const frozen = Object.isFrozen(system);
    if (frozen) {
      const last = this.byObject.get(system)?.[kind];
      if (last && last.generation === this.generation && last.base === base) return last.out;
    }
    const out = this.renderedByKey(kind, system, base);
    if (frozen) {
      let perKind = this.byObject.get(system);
      if (!perKind) this.byObject.set(system, (perKind = {}));
      perKind[kind] = { generation: this.generation, base, out };
    }
    return out;
  }

  private renderedByKey(kind: ArtifactKind, system: System, base: string, bootMac: string | null = null): Rendered {
    const token = system.build ? system.token : null;
    // Everything a render reads of the system (render/context.ts RenderSystem, the profile and its
    // overrides), not its lifecycle fields: the fetch that moves it to installing, or a step
    // report, leaves its kickstart as it was, so anaconda's second fetch is a cache hit.
    const key = `${this.generation}|${kind}|${system.name}|${system.displayName ?? ''}|${system.hostname ?? ''}|${system.ip ?? ''}|${system.macs.join(',')}|${system.profile ?? ''}|${JSON.stringify(system.overrides)}|${token ?? ''}|${system.state === 'built' ? 'built' : ''}|${base}|${bootMac ?? ''}`;
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    const { profile, distro } = this.resolve(system);
    const text = this.renderer.render(kind, { system, profile, distro, base, token, bootMac });
    const out = { bytes: Buffer.from(text, 'utf8') };
    if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(key, out);
    return out;
  }

  /** Switches to another renderer (templates reloaded) and drops every cached render. */
  useRenderer(renderer: ArtifactRenderer): void {
    this.renderer = renderer;
    this.invalidate();
  }

  /** Returns the iPXE entry script. */
  renderEntry(base: string): string {
    return this.renderer.renderEntry(base);
  }

  /** Returns the local-boot menu for unknown machines. */
  renderDefault(kind: 'pxelinux' | 'ipxe' | 'grub', base: string): string {
    return this.renderer.renderDefault(kind, base);
  }

  /** Returns GRUB's network entry config (loads grub.cfg-01-<mac>). */
  renderGrubEntry(base: string): string {
    return this.renderer.renderGrubEntry(base);
  }
}
