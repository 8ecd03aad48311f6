// Files under configured root directories, for TFTP (and anything else that serves a request
// path from disk). A request path can never leave its root: `..` segments, absolute paths, NUL
// bytes and over-long names are refused outright, and symlinks are followed only when their
// target is still inside the root.
import { realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { fileSource, type ByteSource } from '../byte-source.ts';

/** Longest request path and longest single segment accepted (bytes of UTF-8). */
export const PATH_LIMITS = Object.freeze({ total: 1024, segment: 255 });

/** A request path checked and split into safe segments, or the reason it was refused. */
export type CheckedPath = { ok: true; segments: string[] } | { ok: false; reason: string };

/**
 * Returns the safe segments of a request path, or why it is refused. Backslashes count as
 * separators (some PXE clients send DOS paths); empty and `.` segments are dropped.
 */
export function checkRequestPath(requestPath: string): CheckedPath {
  if (requestPath.includes('\0')) return { ok: false, reason: 'contains a NUL byte' };
  if (Buffer.byteLength(requestPath) > PATH_LIMITS.total) return { ok: false, reason: `longer than ${PATH_LIMITS.total} bytes` };
  const path = requestPath.replace(/\\/g, '/');
  if (path.startsWith('/')) return { ok: false, reason: 'is absolute' };
  if (/^[A-Za-z]:/.test(path)) return { ok: false, reason: 'starts with a drive letter' };
  const segments: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') return { ok: false, reason: 'has a ".." segment' };
    if (Buffer.byteLength(seg) > PATH_LIMITS.segment) return { ok: false, reason: `has a segment longer than ${PATH_LIMITS.segment} bytes` };
    segments.push(seg);
  }
  if (segments.length === 0) return { ok: false, reason: 'names no file' };
  return { ok: true, segments };
}

/** Returns true when `path` is `root` itself or below it (both already real paths). */
function inside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * Returns the real path of the regular file a request path names under root, or null when the
 * path is refused, missing, not a regular file, or resolves (through symlinks) outside the root.
 */
export async function resolveUnder(root: string, requestPath: string): Promise<string | null> {
  const checked = checkRequestPath(requestPath);
  if (!checked.ok) return null;
  let realRoot: string;
  let real: string;
  try {
    realRoot = await realpath(root);
    real = await realpath(join(realRoot, ...checked.segments));
  } catch {
    return null; // missing, dangling symlink, permission denied, loop
  }
  if (!inside(realRoot, real)) return null;
  try {
    return (await stat(real)).isFile() ? real : null;
  } catch {
    return null;
  }
}

/** Returns a ByteSource for the first root that holds the request path, or null when none does. */
export async function openUnder(roots: readonly string[], requestPath: string): Promise<ByteSource | null> {
  if (!checkRequestPath(requestPath).ok) return null;
  for (const root of roots) {
    const real = await resolveUnder(root, requestPath);
    if (real === null) continue;
    try {
      return await fileSource(real);
    } catch {
      continue; // vanished or unreadable between the check and the open
    }
  }
  return null;
}
