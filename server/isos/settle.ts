// Decides when a file in the isos folder is safe to open: a copy in progress keeps changing size or
// mtime, so a file is taken only once it has stayed the same for a settle interval (or was last
// modified longer ago than that).

/** What identifies one version of a file on disk. */
export interface FileStamp {
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: number;
}

/** Returns a string equal for two stamps exactly when they describe the same version of a file. */
export function stampKey(s: FileStamp): string {
  return `${s.size}:${s.mtimeMs}:${s.ino}`;
}

/** Tracks files seen but not yet stable. */
export class SettleTracker {
  readonly #seen = new Map<string, { key: string; since: number }>();
  readonly #settleMs: number;

  constructor(settleMs: number) {
    this.#settleMs = settleMs;
  }

  /** Returns whether `path`, observed now with `stamp`, has been unchanged for the settle interval. */
  isStable(path: string, stamp: FileStamp, now: number): boolean {
    const key = stampKey(stamp);
    const prev = this.#seen.get(path);
    if (now - stamp.mtimeMs >= this.#settleMs) {
      this.#seen.delete(path);
      return true;
    }
    if (!prev || prev.key !== key) {
      this.#seen.set(path, { key, since: now });
      return false;
    }
    if (now - prev.since >= this.#settleMs) {
      this.#seen.delete(path);
      return true;
    }
    return false;
  }

  /** Forgets every path not in `present` (files that went away while settling). */
  retain(present: ReadonlySet<string>): void {
    for (const path of this.#seen.keys()) if (!present.has(path)) this.#seen.delete(path);
  }

  /** Returns how many files are waiting to settle. */
  get waiting(): number {
    return this.#seen.size;
  }
}
