// Ties distro names to ISO images: an ISO-detected distro is served under its own name, and a YAML
// distro with `iso:` is served from that file under the YAML name. Also turns catalog entries
// into distros the profiles can name.
import type { ByteSource } from '../byte-source.ts';
import type { CatalogEntry, IsoCatalog } from '../isos/catalog.ts';
import type { IsoEntry } from '../isos/types.ts';
import { FAMILIES, NAME_RE, type Distro, type Family } from '../profiles/schema.ts';
import type { DistroSource, ProfileRegistry } from '../profiles/registry.ts';

const ARCH: Record<string, Distro['arch']> = { i386: 'i386', i486: 'i386', i586: 'i386', i686: 'i386', x86_64: 'x86_64', amd64: 'x86_64', aarch64: 'aarch64', arm64: 'aarch64' };

/** Returns the catalog's usable images as distros (known family and arch, kernel and initrd found). */
export function catalogDistros(catalog: Pick<IsoCatalog, 'list'>): DistroSource {
  return {
    distros() {
      const out: Distro[] = [];
      for (const e of catalog.list()) {
        const d = e.distro;
        const arch = ARCH[d.arch];
        if (!arch || !(FAMILIES as readonly string[]).includes(d.family) || !d.kernel || !d.initrd || !NAME_RE.test(e.name)) continue;
        out.push({ kind: 'distro', name: e.name, family: d.family as Family, arch, iso: e.fileName, kernel: d.kernel, initrd: d.initrd, installer: 'anaconda', source: 'iso' });
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
    return this.catalog.get(distro);
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
