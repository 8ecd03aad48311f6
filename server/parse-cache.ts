// Derived data kept between starts, as JSON in a file in the data folder, keyed by the SHA-256 of a
// version and the source text: parsed templates (Handlebars' parser is most of a start-up, about
// 100 ms for the bundled templates; version = the handlebars version; every tree still goes through
// the template checks after it is read back) and the resolved profile set (version = the build id).
// A missing, unreadable or stale file only means parsing again.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** A cache of parsed template trees, loaded from and saved to one JSON file. */
export class ParseCache<T> {
  private readonly old = new Map<string, T>();
  private readonly now = new Map<string, T>();
  private changed = false;

  /** Reads the cache file (a missing or malformed one is an empty cache); file null keeps nothing. */
  constructor(
    private readonly file: string | null,
    private readonly version: string,
  ) {
    if (!file) return;
    try {
      const data = JSON.parse(readFileSync(file, 'utf8')) as Record<string, T>;
      for (const [k, v] of Object.entries(data)) this.old.set(k, v);
    } catch {
      /* no cache yet, or unreadable: parse everything */
    }
  }

  private key(source: string): string {
    return createHash('sha256').update(this.version).update('\0').update(source).digest('base64url');
  }

  /** Returns the cached tree of source, or parses it with parse and remembers the result. */
  get(source: string, parse: (s: string) => T): T {
    const k = this.key(source);
    let tree = this.now.get(k) ?? this.old.get(k);
    if (tree === undefined) {
      tree = parse(source);
      this.changed = true;
    }
    this.now.set(k, tree);
    return tree;
  }

  /** Writes the trees used by this load (dropping the rest) when anything was parsed or dropped; returns the error text when the write failed. */
  save(): string | null {
    if (!this.file || (!this.changed && this.now.size === this.old.size)) return null;
    try {
      mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
      const tmp = `${this.file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(Object.fromEntries(this.now)), { mode: 0o600 });
      renameSync(tmp, this.file);
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  }
}
