// Dashboard sessions: a random id kept server-side with an absolute expiry and a per-session CSRF
// token, carried in an HttpOnly, SameSite=Strict cookie. Before login, a short-lived cookie holds
// the login form's CSRF token (double submit), so every POST is checked.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { constantTimeEqual } from '../auth.ts';

export const SESSION_COOKIE = 'kickstand_session';
export const LOGIN_COOKIE = 'kickstand_login';
/** How long a login lasts (absolute, not sliding). */
export const DEFAULT_SESSION_TTL_MS = 12 * 3600_000;
/** Sessions kept at once; the oldest is dropped past this. */
export const DEFAULT_MAX_SESSIONS = 1000;
/** How long the login form's CSRF cookie lives. */
export const LOGIN_CSRF_TTL_MS = 30 * 60_000;

/** One logged-in browser. */
export interface Session {
  id: string;
  csrf: string;
  createdAt: number;
  expiresAt: number;
}

/** Returns 256 random bits, URL-safe. */
export function randomId(): string {
  return randomBytes(32).toString('base64url');
}

/** Keeps sessions in memory (a restart logs everyone out, which is fine for an admin UI). */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  readonly ttlMs: number;
  private readonly max: number;
  private readonly clock: () => number;

  constructor(o: { ttlMs?: number; max?: number; clock?: () => number } = {}) {
    this.ttlMs = o.ttlMs ?? DEFAULT_SESSION_TTL_MS;
    this.max = o.max ?? DEFAULT_MAX_SESSIONS;
    this.clock = o.clock ?? Date.now;
  }

  /** Returns a new session with its own CSRF token. */
  create(): Session {
    const now = this.clock();
    for (const [id, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(id);
    while (this.sessions.size >= this.max) this.sessions.delete(this.sessions.keys().next().value as string);
    const s: Session = { id: randomId(), csrf: randomId(), createdAt: now, expiresAt: now + this.ttlMs };
    this.sessions.set(s.id, s);
    return s;
  }

  /** Returns the live session with this id, or null (unknown or expired). */
  get(id: string | undefined): Session | null {
    if (!id) return null;
    const s = this.sessions.get(id);
    if (!s) return null;
    if (s.expiresAt <= this.clock()) {
      this.sessions.delete(id);
      return null;
    }
    return s;
  }

  /** Ends a session. */
  destroy(id: string): void {
    this.sessions.delete(id);
  }

  /** Returns how many sessions are held. */
  get size(): number {
    return this.sessions.size;
  }
}

/** Returns the request's cookies by name (first one wins; undecodable values are skipped). */
export function readCookies(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const k = part.slice(0, eq).trim();
    if (!k || k in out) continue;
    try {
      out[k] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      // ignore a malformed cookie value
    }
  }
  return out;
}

/** Returns a Set-Cookie value: HttpOnly, SameSite=Strict, Path=/ always; Secure when asked. */
export function cookieHeader(name: string, value: string, o: { maxAgeMs: number; secure: boolean }): string {
  const parts = [`${name}=${encodeURIComponent(value)}`, 'Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${Math.max(0, Math.floor(o.maxAgeMs / 1000))}`];
  if (o.secure) parts.push('Secure');
  return parts.join('; ');
}

/** Returns true when a submitted CSRF token equals the expected one (constant time). */
export function csrfMatches(submitted: unknown, expected: string | undefined): boolean {
  return typeof submitted === 'string' && typeof expected === 'string' && submitted.length > 0 && constantTimeEqual(submitted, expected);
}

/** Failed logins a source may make before each further attempt must wait. */
export const DEFAULT_LOGIN_FAILURES = 5;
/** Longest wait between two attempts, however many failed: the right token is never locked out longer. */
export const DEFAULT_LOGIN_MAX_DELAY_MS = 30_000;
/** A source's failures are forgotten after this long without one. */
export const DEFAULT_LOGIN_FORGET_MS = 15 * 60_000;
/** Sources tracked at once; past it the quietest half is forgotten (a flood of sources must not grow memory). */
export const DEFAULT_LOGIN_SOURCES = 10_000;

/**
 * Slows password guessing per source address without locking the right token out: after `max`
 * failures, each further attempt is checked only after a wait that doubles per failure (1 s, 2 s,
 * 4 s …) up to maxDelayMs; attempts inside the wait are refused unchecked. So a guesser gets about
 * two tries a minute, and someone at the same address with the right token waits at most maxDelayMs.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, { count: number; last: number }>();
  private readonly max: number;
  private readonly maxDelayMs: number;
  private readonly forgetMs: number;
  private readonly clock: () => number;

  constructor(o: { max?: number; maxDelayMs?: number; forgetMs?: number; clock?: () => number } = {}) {
    this.max = o.max ?? DEFAULT_LOGIN_FAILURES;
    this.maxDelayMs = o.maxDelayMs ?? DEFAULT_LOGIN_MAX_DELAY_MS;
    this.forgetMs = o.forgetMs ?? DEFAULT_LOGIN_FORGET_MS;
    this.clock = o.clock ?? Date.now;
  }

  /** Returns how many ms this source must still wait before its next attempt is checked (0: go ahead). */
  waitMs(source: string): number {
    const f = this.failures.get(source);
    if (!f) return 0;
    const since = this.clock() - f.last;
    if (since >= this.forgetMs) {
      this.failures.delete(source);
      return 0;
    }
    if (f.count < this.max) return 0;
    return Math.max(0, this.delayAfter(f.count) - since);
  }

  /** Returns the wait after n failures. */
  private delayAfter(n: number): number {
    return Math.min(this.maxDelayMs, 1000 * 2 ** Math.min(30, n - this.max));
  }

  /** Records one failed login from source. */
  fail(source: string): void {
    const now = this.clock();
    if (this.failures.size >= DEFAULT_LOGIN_SOURCES && !this.failures.has(source)) this.forgetQuietest();
    const f = this.failures.get(source);
    if (!f || now - f.last >= this.forgetMs) this.failures.set(source, { count: 1, last: now });
    else Object.assign(f, { count: f.count + 1, last: now });
  }

  /** Forgets a source's failures (after a good login). */
  reset(source: string): void {
    this.failures.delete(source);
  }

  /** Drops the half of the sources whose last failure is oldest. */
  private forgetQuietest(): void {
    const byAge = [...this.failures.entries()].sort((a, b) => a[1].last - b[1].last);
    for (const [k] of byAge.slice(0, Math.ceil(byAge.length / 2))) this.failures.delete(k);
  }
}
