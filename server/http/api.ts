// The REST API under /api/v1 on express: systems, rebuild, events, profiles, distros. Every route
// comes from the shared route table; every error goes through the one error mapping.
import express, { type Request, type Response, type NextFunction, type Express } from 'express';
import type { Logger } from '../log.ts';
import { BadRequestError, NotFoundError } from '../errors.ts';
import type { Artifacts } from '../boot/artifacts.ts';
import { isArtifactKind } from '../boot/artifacts.ts';
import type { Lifecycle } from '../boot/lifecycle.ts';
import type { System } from '../store/types.ts';
import { plainIp } from '../boot/match.ts';
import { maskProfile, type ProfileRegistry } from '../profiles/registry.ts';
import { newSystemSchema, parseBody, systemSlug, type NewSystemInput } from '../profiles/system-input.ts';
import { checkProfileOverrides, editSystem } from '../boot/system-edit.ts';
import { requireAdmin, requireMetricsToken } from './auth.ts';
import { baseUrl } from './boot-routes.ts';
import { fromBodyParser, sendError } from './respond.ts';
import { openApiDocument } from './openapi.ts';
import { ROUTES, expressPath } from './routes.ts';
import { eventsView, systemView } from './views.ts';
import { MAX_PAGE_SIZE, pageOf, pageRequest, systemFilter, systemsPage } from '../boot/fleet.ts';
import type { PowerControl } from '../boot/power-control.ts';
import { powerHandlers, wantsReboot } from './power-routes.ts';

export interface ApiOptions {
  lifecycle: Lifecycle;
  registry: ProfileRegistry;
  artifacts: Artifacts;
  adminToken: string;
  log: Logger;
  publicUrl?: string;
  /** Extra sources for /api/v1/distros (ISO files that were found but not usable, …). */
  isoStatus?: () => unknown[];
  /** Serves /metrics when set. */
  metrics?: { contentType: string; render(): Promise<string> };
  /** /metrics on this port: false when it has a listener of its own; token: scrapers must send it (or the admin token). */
  metricsRoute?: false | { token?: string };
  /** Power control (settings, actions, rebuild with reboot); its routes answer 404 without it. */
  power?: PowerControl;
}

/** Largest JSON body the API reads (after the bearer token is checked). */
export const API_BODY_LIMIT = '256kb';

type Handler = (req: Request, res: Response) => Promise<void>;

export { checkProfileOverrides };

/** Registers a system from an API or dashboard body (validated here) and arms it when asked. */
export async function registerSystem(lifecycle: Lifecycle, registry: ProfileRegistry, input: unknown, source: string | null): Promise<System> {
  const body = parseBody<NewSystemInput>(newSystemSchema, input);
  checkProfileOverrides(registry, body.profile, body.overrides ?? {});
  const s = await lifecycle.store.createSystem({ ...body, build: false }, lifecycle.now());
  return body.build ? lifecycle.arm(s.name, source, 'armed at registration') : s;
}

/** Returns the express app serving /healthz, /metrics and /api/v1. */
export function createApi(o: ApiOptions): Express {
  const { lifecycle, registry, artifacts, log } = o;
  const store = lifecycle.store;
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  // Bodies are parsed per route after the bearer token is checked: no token, no body read (401 first).
  const json = express.json({ limit: API_BODY_LIMIT, strict: true });

  const base = (req: Request) => baseUrl(req, o.publicUrl);
  const source = (req: Request) => plainIp(req.socket.remoteAddress);
  const param = (req: Request, k: string) => String(req.params[k] ?? '');
  // A system's display name (the notes' `NGTest-hvm`) finds it as its slug does.
  const systemParam = (req: Request) => systemSlug(param(req, 'name'));
  const getOr404 = async (name: string) => {
    const s = await store.getSystem(name);
    if (!s) throw new NotFoundError(`no system named ${JSON.stringify(name)}`);
    return s;
  };

  const handlers: Record<string, Handler> = {
    ...powerHandlers({ power: o.power, lifecycle }),
    async healthz(_req, res) {
      res.json({ ok: true });
    },
    async listSystems(req, res) {
      const page = await systemsPage(lifecycle, systemFilter(req.query), pageRequest(req.query));
      res.json({ systems: page.systems.map((s) => systemView(s, lifecycle, base(req))), next_cursor: page.next });
    },
    async createSystem(req, res) {
      const s = await registerSystem(lifecycle, registry, req.body, source(req));
      res.status(201).json(systemView(s, lifecycle, base(req)));
    },
    async getSystem(req, res) {
      res.json(systemView(await getOr404(systemParam(req)), lifecycle, base(req)));
    },
    async updateSystem(req, res) {
      res.json(systemView(await editSystem(lifecycle, registry, systemParam(req), req.body), lifecycle, base(req)));
    },
    async deleteSystem(req, res) {
      if (!(await store.deleteSystem(systemParam(req)))) throw new NotFoundError(`no system named ${JSON.stringify(systemParam(req))}`);
      res.status(204).end();
    },
    async rebuildSystem(req, res) {
      if (wantsReboot(req.body)) {
        if (!o.power) throw new NotFoundError('power control is not enabled in this kickstand');
        const s = await o.power.rebuild(systemParam(req), { reboot: true, source: source(req), reason: 'rebuild with reboot requested' });
        res.json(systemView(s, lifecycle, base(req)));
        return;
      }
      res.json(systemView(await lifecycle.arm(systemParam(req), source(req), 'rebuild requested'), lifecycle, base(req)));
    },
    async disarmSystem(req, res) {
      res.json(systemView(await lifecycle.disarm(systemParam(req), source(req)), lifecycle, base(req)));
    },
    async systemEvents(req, res) {
      const s = await getOr404(systemParam(req));
      const run = req.query.run === undefined ? undefined : Number(req.query.run);
      if (run !== undefined && !Number.isInteger(run)) throw new BadRequestError('run: expected an integer', 'run');
      // Timings come from the whole timeline, then one page of it is sent (by event id).
      const page = pageOf(eventsView(await store.listEvents(s.name, { run })), (e) => String(e.id), pageRequest(req.query, MAX_PAGE_SIZE), (a, b) => Number(a) - Number(b));
      res.json({ system: s.name, run: s.run, state: lifecycle.displayState(s), events: page.items, next_cursor: page.next });
    },
    async renderArtifact(req, res) {
      const kind = param(req, 'kind');
      if (!isArtifactKind(kind)) throw new BadRequestError(`kind: unknown artifact ${JSON.stringify(kind)}`, 'kind');
      const s = await getOr404(systemParam(req));
      res.type('text/plain').send(artifacts.render(kind, s, base(req)));
    },
    async listProfiles(req, res) {
      const page = pageOf(registry.profiles(), (p) => p.name, pageRequest(req.query));
      res.json({ profiles: page.items.map(maskProfile), next_cursor: page.next });
    },
    async getProfile(req, res) {
      res.json(maskProfile(registry.requireProfile(param(req, 'name'))));
    },
    async listDistros(req, res) {
      const page = pageOf(registry.distros(), (d) => d.name, pageRequest(req.query));
      res.json({ distros: page.items, isos: o.isoStatus?.() ?? [], next_cursor: page.next });
    },
    async openapi(_req, res) {
      res.json(openApiDocument());
    },
    async metrics(req, res) {
      if (!o.metrics || o.metricsRoute === false) throw new NotFoundError('metrics are not served on this port');
      requireMetricsToken(req.headers, o.metricsRoute?.token, o.adminToken);
      res.type(o.metrics.contentType).send(await o.metrics.render());
    },
  };

  for (const spec of ROUTES.filter((r) => !r.lean)) {
    const h = handlers[spec.name];
    if (!h) throw new Error(`route ${spec.name} has no handler`);
    for (const m of spec.methods) {
      const method = m.toLowerCase() as 'get' | 'post' | 'patch' | 'delete';
      const auth = (req: Request, _res: Response, next: NextFunction) => {
        try {
          if (spec.auth) requireAdmin(req.headers, o.adminToken);
          next();
        } catch (err) {
          next(err);
        }
      };
      app[method](expressPath(spec), auth, json, (req: Request, res: Response, next: NextFunction) => {
        h(req, res).catch(next);
      });
    }
  }
  app.use('/api', (req: Request, _res: Response, next: NextFunction) => next(new NotFoundError(`no route ${req.method} ${req.originalUrl}`)));
  // express.json() failures arrive here as errors with a `type`: 400 when malformed, 413 when too large.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    sendError(res, fromBodyParser(err), log, { method: req.method, path: req.path });
  });
  return app;
}
