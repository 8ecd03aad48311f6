// Fills the draft install script's `'{{name}}'` placeholders the way kickstand's renderer will:
// every value single-quoted for the shell, every placeholder filled, no value unused.
import { readFileSync } from 'node:fs';

/** Path of the draft install script. */
export const DRAFT_INSTALL_SCRIPT = new URL('./guest/draft-install.sh', import.meta.url).pathname;

/** Returns a value single-quoted for POSIX sh (`'` becomes `'\''`). */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Returns the draft script with each `'{{name}}'` replaced by the quoted value; throws on a missing or unused value. */
export function renderDraft(values: Record<string, string | number>, template = readFileSync(DRAFT_INSTALL_SCRIPT, 'utf8')): string {
  const used = new Set<string>();
  const out = template.replace(/'\{\{(\w+)\}\}'/g, (_m, name: string) => {
    const v = values[name];
    if (v === undefined) throw new Error(`draft install script: no value for {{${name}}}`);
    used.add(name);
    return shellQuote(String(v));
  });
  if (/^[^#\n]*\{\{/m.test(out)) throw new Error('draft install script: a {{placeholder}} outside single quotes');
  const unused = Object.keys(values).filter((k) => !used.has(k));
  if (unused.length > 0) throw new Error(`draft install script: unused values ${unused.join(', ')}`);
  return out;
}
