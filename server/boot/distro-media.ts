// Ties distro names to ISO images: an ISO-detected distro is served under its own name, and a YAML
// distro with `iso:` is served from that file under the YAML name. Also turns catalog entries
// into distros the profiles can name.
import type { ByteSource } from '../byte-source.ts';
import type { CatalogEntry, IsoCatalog } from '../isos/catalog.ts';
import type { IsoEntry } from '../isos/types.ts';
import { slug } from '../isos/detect.ts';
import { FAMILIES, NAME_RE, type Distro, type Family } from '../profiles/schema.ts';
import type { DistroSource, ProfileRegistry } from '../profiles/registry.ts';

const ARCH: Record<string, Distro['arch']> = { i386: 'i386', i486: 'i386', i586: 'i386', i686: 'i386', x86_64: 'x86_64', amd64: 'x86_64', aarch64: 'aarch64', arm64: 'aarch64' };

/** An ISO whose detected distro name a YAML distro takes while naming another ISO file (or none). */
export interface ShadowedIso {
  /** The image's file name in the isos folder. */
  file: string;
  /** The distro name detected in it. */
  detected: string;
  /** The ISO file the YAML distro of that name serves from (null: it names none). */
  yamlIso: string | null;
  /** The name the image is served under instead (/trees/<name>/, distros/<name>/ over TFTP). */
  servedAs: string;
}

/** Returns the images a YAML distro shadows, each with the distinct name it is served under. */
export function shadowedIsos(entries: readonly CatalogEntry[], yaml: readonly Distro[]): ShadowedIso[] {
  const yamlByName = new Map(yaml.map((d) => [d.name, d]));
  const taken = new Set([...yaml.map((d) => d.name), ...entries.map((e) => e.name)]);
  const out: ShadowedIso[] = [];
  for (const e of entries) {
    const y = yamlByName.get(e.name);
    if (!y || y.iso === e.fileName) continue;
    const base = slug(`${e.name}-${e.fileName.replace(/\.iso$/i, '')}`).slice(0, 56);
    let servedAs = base;
    for (let i = 2; taken.has(servedAs); i++) servedAs = `${base}-${i}`;
    taken.add(servedAs);
    out.push({ file: e.fileName, detected: e.name, yamlIso: y.iso ?? null, servedAs });
  }
  return out;
}

/** Returns the warning line for a shadowed image (start-up log and `iso list`). */
export function describeShadowed(s: ShadowedIso): string {
  return `ISO ${s.file} holds distro ${s.detected}, but the YAML distro ${s.detected} serves ${s.yamlIso ? `ISO ${s.yamlIso}` : 'no ISO'}; ${s.file} is served as ${s.servedAs}`;
}

/**
 * Returns the catalog's usable images as distros (known family and arch, kernel and initrd found).
 * An image whose name a YAML distro takes for another file is listed under its distinct name.
 */
export function catalogDistros(catalog: Pick<IsoCatalog, 'list'>, yamlDistros: () => readonly Distro[] = () => []): DistroSource {
  return {
    distros() {
      const out: Distro[] = [];
      const renamed = new Map(shadowedIsos(catalog.list(), yamlDistros()).map((s) => [s.file, s.servedAs]));
      for (const e of catalog.list()) {
        const d = e.distro;
        const arch = ARCH[d.arch];
        const name = renamed.get(e.fileName) ?? e.name;
        if (!arch || !(FAMILIES as readonly string[]).includes(d.family) || !d.kernel || !d.initrd || !NAME_RE.test(name)) continue;
        out.push({ kind: 'distro', name, family: d.family as Family, arch, iso: e.fileName, kernel: d.kernel, initrd: d.initrd, installer: 'anaconda', source: 'iso' });
      }
      return out;
    },
  };
}

/** Reads install-tree files by distro name, whichever way the distro was defined. */
export class DistroMedia {
  constructor(
    private readonly catalog: IsoCatalog,
    private readonly registry: ProfileRegistry,
  ) {}

  /** Returns the catalog entry holding the distro's tree, or undefined. */
  entry(distro: string): CatalogEntry | undefined {
    const d = this.registry.distro(distro);
    if (d?.source === 'yaml') return d.iso ? this.catalog.byFile(d.iso) : undefined;
    // An ISO distro names its file: the image may be served under a name other than its own.
    return d?.iso ? this.catalog.byFile(d.iso) : this.catalog.get(distro);
  }

  /** Returns a short identity of the image (ETags), or undefined. */
  identity(distro: string): string | undefined {
    return this.entry(distro)?.identity;
  }

  /** Returns the entry at path inside the distro's tree, or null. */
  async stat(distro: string, path: string): Promise<IsoEntry | null> {
    const e = this.entry(distro);
    return e ? this.catalog.stat(e.name, path) : null;
  }

  /** Returns the directory listing at path, or null. */
  async listDir(distro: string, path: string): Promise<IsoEntry[] | null> {
    const e = this.entry(distro);
    return e ? this.catalog.listDir(e.name, path) : null;
  }

  /** Returns the file at path as a ByteSource, or null. */
  async openFile(distro: string, path: string): Promise<ByteSource | null> {
    const e = this.entry(distro);
    return e ? this.catalog.openFile(e.name, path) : null;
  }
}
