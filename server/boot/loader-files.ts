// The boot loaders this host can hand out, found once at start (bootloaders.ts) and shared by the
// TFTP server, the HTTP /boot/ route and the DHCP booter: whatever DHCP names is served by both.
import type { Logger } from '../log.ts';
import { fileSource, type ByteSource } from '../byte-source.ts';
import { REQUIRED_BOOTLOADERS, describeMissing, findBootloaders, type BootloaderOptions, type Bootloaders } from './bootloaders.ts';

/** The boot loaders found on this host, by the name clients ask for. */
export class LoaderFiles {
  private readonly packages = new Map<string, string>();

  constructor(private readonly loaders: Bootloaders, specs = REQUIRED_BOOTLOADERS) {
    for (const s of specs) if (s.pkg) this.packages.set(s.name, s.pkg);
  }

  /** Returns true when the named loader was found. */
  has(name: string): boolean {
    return Object.hasOwn(this.loaders.found, name);
  }

  /** Returns the Debian package that installs a loader, or null when kickstand does not know it. */
  packageOf(name: string): string | null {
    return this.packages.get(name) ?? null;
  }

  /** Returns the names served, sorted. */
  names(): string[] {
    return Object.keys(this.loaders.found).sort();
  }

  /** Returns a ByteSource for the named loader, or null when there is none. */
  async open(name: string): Promise<ByteSource | null> {
    if (!this.has(name)) return null;
    try {
      return await fileSource(this.loaders.found[name]!);
    } catch {
      return null; // removed since start-up (a package upgrade): the client gets "not found"
    }
  }
}

/** Finds the boot loaders, warns once naming the packages of the missing x86 ones, and returns them. */
export async function loadLoaderFiles(log: Logger, options: BootloaderOptions = {}): Promise<LoaderFiles> {
  const loaders = await findBootloaders(options);
  const warn = loaders.missing.filter((m) => m.startup);
  if (warn.length > 0) log.warn(`boot loaders missing, clients asking for them get no boot offer or "file not found": ${describeMissing(warn)}`);
  return new LoaderFiles(loaders, options.required ?? REQUIRED_BOOTLOADERS);
}
