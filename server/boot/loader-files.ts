// The boot loaders this host can hand out, found once at start (bootloaders.ts) and shared by the
// TFTP server, the HTTP /boot/ route and the DHCP booter: whatever DHCP names is served by both.
import { readFile, stat } from 'node:fs/promises';
import type { Logger } from '../log.ts';
import { bufferSource, fileSource, type ByteSource } from '../byte-source.ts';
import { REQUIRED_BOOTLOADERS, describeMissing, findBootloaders, type BootloaderOptions, type Bootloaders } from './bootloaders.ts';

/** Loaders up to this size are kept in memory; bigger ones are read from disk per transfer. */
export const MAX_MEMORY_LOADER_BYTES = 8 * 1024 * 1024;
/** How often a loader kept in memory is checked against its file (a package upgrade replaces it). */
export const LOADER_RECHECK_MS = 1000;

export interface LoaderFilesOptions {
  maxMemoryBytes?: number;
  recheckMs?: number;
  clock?: () => number;
}

/** The boot loaders found on this host, by the name clients ask for. */
export class LoaderFiles {
  private readonly packages = new Map<string, string>();
  /**
   * Loaders read into memory, checked against their file at most once per recheckMs: every
   * machine of a boot storm fetches the same two or three files, and a stat, open and close on
   * the event loop per transfer was a tenth of its time.
   */
  private readonly memory = new Map<string, { source: ByteSource; checkedAt: number }>();
  private readonly maxMemoryBytes: number;
  private readonly recheckMs: number;
  private readonly clock: () => number;

  constructor(
    private readonly loaders: Bootloaders,
    specs = REQUIRED_BOOTLOADERS,
    o: LoaderFilesOptions = {},
  ) {
    for (const s of specs) if (s.pkg) this.packages.set(s.name, s.pkg);
    this.maxMemoryBytes = o.maxMemoryBytes ?? MAX_MEMORY_LOADER_BYTES;
    this.recheckMs = o.recheckMs ?? LOADER_RECHECK_MS;
    this.clock = o.clock ?? (() => performance.now());
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
    const now = this.clock();
    const kept = this.memory.get(name);
    if (kept && now - kept.checkedAt < this.recheckMs) return kept.source;
    const path = this.loaders.found[name]!;
    try {
      const st = await stat(path);
      const id = `file:${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
      if (kept && kept.source.id === id) {
        kept.checkedAt = now;
        return kept.source;
      }
      this.memory.delete(name);
      if (!st.isFile() || st.size > this.maxMemoryBytes) return await fileSource(path);
      const bytes = await readFile(path);
      // Replaced while it was read: serve what was read, keep nothing.
      if (bytes.length !== st.size) return bufferSource(bytes, st.mtime);
      const source: ByteSource = { ...bufferSource(bytes, st.mtime), id };
      this.memory.set(name, { source, checkedAt: now });
      return source;
    } catch {
      this.memory.delete(name);
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
