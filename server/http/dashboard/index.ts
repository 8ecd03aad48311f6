// The operator dashboard under /ui/: server-rendered pages, live updates over server-sent events,
// and forms behind a login with the admin token. Every page but the login form needs a session;
// every POST needs the session's CSRF token. Security headers forbid inline script and framing.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from '../../log.ts';
import { NotFoundError, toErrorBody } from '../../errors.ts';
import type { Artifacts } from '../../boot/artifacts.ts';
import type { Lifecycle } from '../../boot/lifecycle.ts';
import type { ProfileRegistry } from '../../profiles/registry.ts';
import { baseUrl } from '../boot-routes.ts';
import { fromBodyParser } from '../respond.ts';
import { adoptAction, lifecycleAction, login, logout, powerAction, rebuildReboot, register, registerValues, sendLogin, type ActionContext } from './actions.ts';
import type { PowerControl } from '../../boot/power-control.ts';
import { EventBus } from './bus.ts';
import { liveStreams } from './live.ts';
import { distrosPage, errorPage, leasesPage, registerPage, systemPage, systemsPage } from './pages.ts';
import { Views } from './render.ts';
import { csrfMatches, LoginThrottle, readCookies, SESSION_COOKIE, SessionStore, type Session } from './session.ts';
import { dashboardDir } from './files.ts';

export { EventBus } from './bus.ts';

export interface DashboardOptions {
  lifecycle: Lifecycle;
  registry: ProfileRegistry;
  artifacts: Artifacts;
  adminToken: string;
  log: Logger;
  /** Where live updates come from (the lifecycle's onEvent publishes to it); none: pages do not update live. */
  bus?: EventBus;
  publicUrl?: string;
  isoStatus?: () => unknown[];
  /** Mark cookies Secure (default: when publicUrl is https). */
  secureCookies?: boolean;
  sessionTtlMs?: number;
  /** Failed logins per source address before each further attempt must wait (429 inside the wait). */
  loginFailures?: number;
  heartbeatMs?: number;
  maxStreams?: number;
  clock?: () => number;
  power?: PowerControl;
}

const ASSETS_DIR = dashboardDir('assets');
const ASSET_TYPES: Record<string, string> = { 'app.css': 'text/css; charset=utf-8', 'live.js': 'text/javascript; charset=utf-8' };
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Returns the router serving `/` (a redirect) and everything under `/ui/`. */
export function createDashboard(o: DashboardOptions): Router {
  const sessions = new SessionStore({ ttlMs: o.sessionTtlMs, clock: o.clock });
  // The views compile on the first page asked for, not at start-up (they ship with the code and
  // their tests load every one of them).
  let views: Views | undefined;
  const c: ActionContext = {
    lifecycle: o.lifecycle,
    registry: o.registry,
    artifacts: o.artifacts,
    get views() {
      return (views ??= new Views());
    },
    log: o.log,
    isoStatus: o.isoStatus,
    sessions,
    throttle: new LoginThrottle({ max: o.loginFailures, clock: o.clock }),
    adminToken: o.adminToken,
    secureCookies: o.secureCookies ?? Boolean(o.publicUrl?.startsWith('https:')),
    power: o.power,
  };
  const live = liveStreams({ bus: o.bus ?? new EventBus(), lifecycle: o.lifecycle, sessions, heartbeatMs: o.heartbeatMs, maxStreams: o.maxStreams });
  const assets = new Map(Object.entries(ASSET_TYPES).map(([name, type]) => {
    const body = readFileSync(join(ASSETS_DIR, name));
    return [name, { type, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 20)}"` }];
  }));
  const form = express.urlencoded({ extended: false, limit: '64kb', parameterLimit: 50 });
  const html = (res: Response, body: string, status = 200) => void res.status(status).type('html').send(body);
  const sessionOf = (res: Response) => res.locals.session as Session;

  const r = express.Router({ strict: false });
  r.use((_req, res, next) => {
    res.setHeader('content-security-policy', CSP);
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('x-frame-options', 'DENY');
    res.setHeader('referrer-policy', 'no-referrer');
    next();
  });
  r.get('/', (_req, res) => res.redirect(303, '/ui/'));
  r.get('/ui/assets/:file', (req, res, next) => {
    const a = assets.get(String(req.params.file));
    if (!a) return next();
    res.setHeader('cache-control', 'no-cache');
    res.setHeader('etag', a.etag);
    if (req.headers['if-none-match'] === a.etag) return void res.status(304).end();
    res.type(a.type).send(a.body);
  });
  r.use('/ui', (_req, res, next) => {
    res.setHeader('cache-control', 'no-store');
    next();
  });
  r.get('/ui/login', (req, res) => {
    if (sessions.get(readCookies(req)[SESSION_COOKIE])) return res.redirect(303, '/ui/');
    sendLogin(c, res, 200, typeof req.query.next === 'string' ? req.query.next : '/ui/', '');
  });
  r.post('/ui/login', form, (req, res) => login(c, req, res));

  // The gate: no session, no page (redirect to the login form) and no action (401, before any
  // body is read); a POST whose CSRF token is not the session's is refused with 403.
  r.use('/ui', (req: Request, res: Response, next: NextFunction) => {
    const session = sessions.get(readCookies(req)[SESSION_COOKIE]);
    if (!session) {
      if ((req.method === 'GET' || req.method === 'HEAD') && !req.path.startsWith('/events')) return res.redirect(303, `/ui/login?next=${encodeURIComponent(req.originalUrl)}`);
      return html(res, errorPage(c, null, 401, 'Log in first.'), 401);
    }
    res.locals.session = session;
    next();
  });
  r.use('/ui', form, (req: Request, res: Response, next: NextFunction) => {
    const session = res.locals.session as Session;
    if (req.method !== 'GET' && req.method !== 'HEAD' && !csrfMatches((req.body as Record<string, unknown> | undefined)?._csrf, session.csrf)) {
      o.log.warn({ path: req.originalUrl }, 'dashboard form refused: CSRF token missing or wrong');
      return html(res, errorPage(c, session, 403, 'This form is stale or did not come from this dashboard. Reload the page and try again.'), 403);
    }
    next();
  });
  r.get('/ui', async (req, res) => html(res, await systemsPage(c, sessionOf(res), req.query as Record<string, unknown>)));
  r.get('/ui/systems/:name', async (req, res) => {
    const s = await o.lifecycle.store.getSystem(String(req.params.name));
    if (!s) throw new NotFoundError(`no system named ${JSON.stringify(req.params.name)}`);
    const run = typeof req.query.run === 'string' && /^\d{1,9}$/.test(req.query.run) ? Number(req.query.run) : null;
    html(res, await systemPage(c, sessionOf(res), s, baseUrl(req, o.publicUrl), run));
  });
  r.get('/ui/register', (_req, res) => html(res, registerPage(c, sessionOf(res), registerValues({ build: 'on' }), null)));
  r.get('/ui/distros', (_req, res) => html(res, distrosPage(c, sessionOf(res))));
  r.get('/ui/leases', async (_req, res) => html(res, await leasesPage(c, sessionOf(res))));
  r.get('/ui/events', (req, res) => live.handle(req, res, sessionOf(res).id));
  r.post('/ui/register', (req, res) => register(c, req, res, sessionOf(res)));
  r.post('/ui/systems/:name/rebuild', (req, res) => lifecycleAction(c, req, res, 'rebuild'));
  r.post('/ui/systems/:name/rebuild-reboot', (req, res) => rebuildReboot(c, req, res));
  r.post('/ui/systems/:name/power', (req, res) => powerAction(c, req, res));
  r.post('/ui/systems/:name/power/:action', (req, res) => powerAction(c, req, res));
  r.post('/ui/systems/:name/disarm', (req, res) => lifecycleAction(c, req, res, 'disarm'));
  r.post('/ui/systems/:name/set', (req, res) => adoptAction(c, req, res, sessionOf(res), baseUrl(req, o.publicUrl)));
  r.post('/ui/logout', (req, res) => logout(c, req, res, sessionOf(res)));
  r.use('/ui', (req) => {
    throw new NotFoundError(`no page ${req.method} ${req.originalUrl}`);
  });
  r.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (!req.originalUrl.startsWith('/ui')) return next(err);
    // A form body too large or malformed is the sender's error (413/400), not the dashboard's.
    const { status, body } = toErrorBody(fromBodyParser(err));
    if (status >= 500) o.log.error({ err, path: req.originalUrl }, 'dashboard request failed');
    if (res.headersSent) return void res.destroy();
    html(res, errorPage(c, (res.locals.session as Session | undefined) ?? null, status, body.error.message), status);
  });
  return r;
}
