// Plain-data helpers shared by configuration, profiles and system overrides: one merge rule
// (maps merge, lists and scalars replace, null removes) and one freeze.

/** Returns true for a plain object (not an array, not null). */
export function isPlainMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Returns a new map with b merged over a: maps merge recursively, lists and scalars replace,
 * and a null in b removes the key (so a child can unset what its parent set).
 */
export function mergeMaps(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    if (k === '__proto__' || k === 'constructor' || k === 'prototype') continue;
    const cur = out[k];
    if (v === null) delete out[k];
    else if (isPlainMap(cur) && isPlainMap(v)) out[k] = mergeMaps(cur, v);
    else out[k] = v;
  }
  return out;
}

/** Returns value after freezing it and everything inside it. */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
