// The dashboard's state-changing forms: log in, log out, register, rebuild, disarm. They call the
// same lifecycle and registration code as the REST API; the router has already checked the
// session and its CSRF token (login checks its own double-submit token here).
import type { Request, Response } from 'express';
import { BadRequestError, KickstandError, NotFoundError } from '../../errors.ts';
import { plainIp } from '../../boot/match.ts';
import { registerSystem } from '../api.ts';
import { editSystem } from '../../boot/system-edit.ts';
import { constantTimeEqual } from '../auth.ts';
import { loginPage, registerPage, systemPage, type PageContext, type RegisterValues } from './pages.ts';
import { cookieHeader, csrfMatches, LOGIN_COOKIE, LOGIN_CSRF_TTL_MS, randomId, readCookies, SESSION_COOKIE, type LoginThrottle, type Session, type SessionStore } from './session.ts';

/** What the actions need beyond the pages' context. */
export interface ActionContext extends PageContext {
  sessions: SessionStore;
  throttle: LoginThrottle;
  adminToken: string;
  secureCookies: boolean;
}

/** Returns a form field as a string ('' when missing or repeated). */
export function field(body: unknown, name: string): string {
  const v = body && typeof body === 'object' ? (body as Record<string, unknown>)[name] : undefined;
  return typeof v === 'string' ? v : '';
}

/** Returns a redirect target inside the dashboard, or /ui/ for anything else (no open redirects). */
export function safeNext(next: string): string {
  return /^\/ui\/[A-Za-z0-9._~%/?=&-]*$/.test(next) && !next.startsWith('//') ? next : '/ui/';
}

const source = (req: Request) => plainIp(req.socket.remoteAddress);

/** Sends the login page with a fresh double-submit CSRF cookie. */
export function sendLogin(c: ActionContext, res: Response, status: number, next: string, error: string): void {
  const csrf = randomId();
  res.setHeader('set-cookie', cookieHeader(LOGIN_COOKIE, csrf, { maxAgeMs: LOGIN_CSRF_TTL_MS, secure: c.secureCookies }));
  res.status(status).type('html').send(loginPage(c, csrf, safeNext(next), error));
}

/** POST /ui/login: checks the form's CSRF token, then the admin token; starts a session. */
export function login(c: ActionContext, req: Request, res: Response): void {
  const next = field(req.body, 'next');
  if (!csrfMatches(field(req.body, '_csrf'), readCookies(req)[LOGIN_COOKIE])) {
    sendLogin(c, res, 403, next, 'The login form expired. Please try again.');
    return;
  }
  const from = source(req) ?? 'unknown';
  const wait = c.throttle.waitMs(from);
  if (wait > 0) {
    const seconds = Math.ceil(wait / 1000);
    c.log.warn({ source: from, waitSeconds: seconds }, 'dashboard login refused: too many failed attempts, not checked');
    res.setHeader('retry-after', String(seconds));
    sendLogin(c, res, 429, next, `Too many failed attempts from this address. Try again in ${seconds} s.`);
    return;
  }
  const token = field(req.body, 'token').trim();
  if (!token || !constantTimeEqual(token, c.adminToken)) {
    c.throttle.fail(from);
    c.log.warn({ source: from }, 'dashboard login refused: wrong admin token');
    sendLogin(c, res, 401, next, 'That is not the admin token.');
    return;
  }
  c.throttle.reset(from);
  const s = c.sessions.create();
  c.log.info({ source: source(req) }, 'dashboard login');
  res.setHeader('set-cookie', [
    cookieHeader(SESSION_COOKIE, s.id, { maxAgeMs: c.sessions.ttlMs, secure: c.secureCookies }),
    cookieHeader(LOGIN_COOKIE, '', { maxAgeMs: 0, secure: c.secureCookies }),
  ]);
  res.redirect(303, safeNext(next));
}

/** POST /ui/logout: ends the session and clears its cookie. */
export function logout(c: ActionContext, _req: Request, res: Response, session: Session): void {
  c.sessions.destroy(session.id);
  res.setHeader('set-cookie', cookieHeader(SESSION_COOKIE, '', { maxAgeMs: 0, secure: c.secureCookies }));
  res.redirect(303, '/ui/login');
}

/** Returns the register form's values as sent. */
export function registerValues(body: unknown): RegisterValues {
  return {
    name: field(body, 'name').trim(),
    macs: field(body, 'macs').trim(),
    ip: field(body, 'ip').trim(),
    hostname: field(body, 'hostname').trim(),
    profile: field(body, 'profile').trim(),
    overrides: field(body, 'overrides').trim(),
    build: ['on', 'true', '1'].includes(field(body, 'build')),
  };
}

/** Returns the API body for the register form's values; BadRequestError when overrides is not JSON. */
export function registerBody(v: RegisterValues): Record<string, unknown> {
  const body: Record<string, unknown> = { name: v.name, macs: v.macs.split(/[\s,;]+/).filter(Boolean), profile: v.profile, build: v.build };
  if (v.ip) body.ip = v.ip;
  if (v.hostname) body.hostname = v.hostname;
  if (v.overrides) {
    try {
      body.overrides = JSON.parse(v.overrides) as unknown;
    } catch (err) {
      throw new BadRequestError(`overrides: not valid JSON: ${(err as Error).message}`, 'overrides');
    }
  }
  return body;
}

/** POST /ui/register: registers (and maybe arms) a system; shows the form again with the error when refused. */
export async function register(c: ActionContext, req: Request, res: Response, session: Session): Promise<void> {
  const values = registerValues(req.body);
  try {
    const s = await registerSystem(c.lifecycle, c.registry, registerBody(values), source(req));
    res.redirect(303, `/ui/systems/${encodeURIComponent(s.name)}`);
  } catch (err) {
    if (!(err instanceof KickstandError) || (err.code !== 'bad_request' && err.code !== 'conflict')) throw err;
    res.status(err.code === 'conflict' ? 409 : 400).type('html').send(registerPage(c, session, values, { message: err.message, field: err.field ?? '' }));
  }
}

/** POST /ui/systems/:name/rebuild-reboot: arms, sets the next boot and power-cycles; a power failure shows its error (the install stays armed). */
export async function rebuildReboot(c: ActionContext, req: Request, res: Response): Promise<void> {
  const name = String(req.params.name ?? '');
  if (!c.power) throw new NotFoundError('power control is not enabled in this kickstand');
  await c.power.rebuild(name, { reboot: true, source: source(req), reason: 'rebuild with reboot requested from the dashboard' });
  res.redirect(303, `/ui/systems/${encodeURIComponent(name)}`);
}

/** Returns the power settings body of the dashboard's power form (empty fields: not set; an empty secret keeps the stored one). */
export function powerBody(body: unknown): Record<string, unknown> {
  const v = (k: string) => field(body, k).trim();
  const out: Record<string, unknown> = {};
  for (const k of ['driver', 'address', 'user', 'domain', 'boot', 'config_dir']) if (v(k)) out[k] = v(k);
  if (v('port')) {
    if (!/^\d{1,5}$/.test(v('port'))) throw new BadRequestError('port: expected a number', 'port');
    out.port = Number(v('port'));
  }
  if (['on', 'true', '1'].includes(v('uefi'))) out.uefi = true;
  const secret = field(body, 'secret');
  if (secret) out.secret = secret;
  else if (['on', 'true', '1'].includes(v('clear_secret'))) out.secret = null;
  return out;
}

/** POST /ui/systems/:name/power: saves the power form; POST …/power/:action runs status, on, off or cycle. */
export async function powerAction(c: ActionContext, req: Request, res: Response): Promise<void> {
  const name = String(req.params.name ?? '');
  if (!c.power) throw new NotFoundError('power control is not enabled in this kickstand');
  const action = req.params.action === undefined ? null : String(req.params.action);
  if (action === null) await c.power.setSettings(name, powerBody(req.body));
  else if (['status', 'on', 'off', 'cycle'].includes(action)) await c.power.act(name, action as 'status', source(req));
  else throw new NotFoundError(`no power action ${JSON.stringify(action)}`);
  res.redirect(303, `/ui/systems/${encodeURIComponent(name)}`);
}

/** POST /ui/systems/:name/rebuild and /disarm: arms a fresh run or cancels one, then shows the system. */
export async function lifecycleAction(c: ActionContext, req: Request, res: Response, action: 'rebuild' | 'disarm'): Promise<void> {
  const name = String(req.params.name ?? '');
  if (action === 'rebuild') await c.lifecycle.arm(name, source(req), 'rebuild requested from the dashboard');
  else await c.lifecycle.disarm(name, source(req));
  res.redirect(303, `/ui/systems/${encodeURIComponent(name)}`);
}

/** POST /ui/systems/:name/set: registers a discovered machine (profile, name, hostname), then shows it; the page again with the error when refused. */
export async function adoptAction(c: ActionContext, req: Request, res: Response, session: Session, base: string): Promise<void> {
  const name = String(req.params.name ?? '');
  const change: Record<string, unknown> = { profile: field(req.body, 'profile').trim() };
  const newName = field(req.body, 'name').trim();
  const hostname = field(req.body, 'hostname').trim();
  if (newName) change.name = newName;
  if (hostname) change.hostname = hostname;
  try {
    const s = await editSystem(c.lifecycle, c.registry, name, change);
    res.redirect(303, `/ui/systems/${encodeURIComponent(s.name)}`);
  } catch (err) {
    if (!(err instanceof KickstandError) || (err.code !== 'bad_request' && err.code !== 'conflict')) throw err;
    const s = await c.lifecycle.store.getSystem(name);
    if (!s) throw err;
    res.status(err.code === 'conflict' ? 409 : 400).type('html').send(await systemPage(c, session, s, base, null, err.message));
  }
}
