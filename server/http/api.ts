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
import { newSystemSchema, parseBody, systemPatchSchema, type NewSystemInput, type SystemPatchInput } from '../profiles/system-input.ts';
import { requireAdmin } from './auth.ts';
import { baseUrl } from './boot-routes.ts';
import { sendError } from './respond.ts';
import { openApiDocument } from './openapi.ts';
import { ROUTES, expressPath } from './routes.ts';
import { eventsView, systemView } from './views.ts';
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
  /** Power control (settings, actions, rebuild with reboot); its routes answer 404 without it. */
  power?: PowerControl;
}

type Handler = (req: Request, res: Response) => Promise<void>;

/** Checks a profile name and overrides resolve; 400 naming the field when not. */
export function checkProfileOverrides(registry: ProfileRegistry, profile: string, overrides: Record<string, unknown>): void {
  if (!registry.profile(profile)) throw new BadRequestError(`profile: no profile named ${JSON.stringify(profile)}`, 'profile');
  try {
    registry.resolve(profile, overrides, 'overrides');
  } catch (err) {
    const e = err as Error & { field?: string };
    throw new BadRequestError(e.message, e.field ? `overrides.${e.field}` : 'overrides');
  }
}

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
  app.use(express.json({ limit: '256kb', strict: true }));

  const base = (req: Request) => baseUrl(req, o.publicUrl);
  const source = (req: Request) => plainIp(req.socket.remoteAddress);
  const param = (req: Request, k: string) => String(req.params[k] ?? '');
  const getOr404 = async (name: string) => {
    const s = await store.getSystem(name);
    if (!s) throw new NotFoundError(`no system named ${JSON.stringify(name)}`);
    return s;
  };
  const checkProfile = (profile: string, overrides: Record<string, unknown>) => checkProfileOverrides(registry, profile, overrides);

  const handlers: Record<string, Handler> = {
    ...powerHandlers({ power: o.power, lifecycle }),
    async healthz(_req, res) {
      res.json({ ok: true });
    },
    async listSystems(req, res) {
      res.json({ systems: (await store.listSystems()).map((s) => systemView(s, lifecycle, base(req))) });
    },
    async createSystem(req, res) {
      const s = await registerSystem(lifecycle, registry, req.body, source(req));
      res.status(201).json(systemView(s, lifecycle, base(req)));
    },
    async getSystem(req, res) {
      res.json(systemView(await getOr404(param(req, 'name')), lifecycle, base(req)));
    },
    async updateSystem(req, res) {
      const name = param(req, 'name');
      const body = parseBody<SystemPatchInput>(systemPatchSchema, req.body);
      const cur = await getOr404(name);
      const profile = body.profile ?? cur.profile;
      if (profile) checkProfile(profile, body.overrides ?? cur.overrides);
      const patch = { ...body, ...(cur.state === 'discovered' && body.profile ? { state: 'registered' as const } : {}) };
      res.json(systemView(await store.updateSystem(name, patch, lifecycle.now()), lifecycle, base(req)));
    },
    async deleteSystem(req, res) {
      if (!(await store.deleteSystem(param(req, 'name')))) throw new NotFoundError(`no system named ${JSON.stringify(param(req, 'name'))}`);
      res.status(204).end();
    },
    async rebuildSystem(req, res) {
      if (wantsReboot(req.body)) {
        if (!o.power) throw new NotFoundError('power control is not enabled in this kickstand');
        const s = await o.power.rebuild(param(req, 'name'), { reboot: true, source: source(req), reason: 'rebuild with reboot requested' });
        res.json(systemView(s, lifecycle, base(req)));
        return;
      }
      res.json(systemView(await lifecycle.arm(param(req, 'name'), source(req), 'rebuild requested'), lifecycle, base(req)));
    },
    async disarmSystem(req, res) {
      res.json(systemView(await lifecycle.disarm(param(req, 'name'), source(req)), lifecycle, base(req)));
    },
    async systemEvents(req, res) {
      const s = await getOr404(param(req, 'name'));
      const run = req.query.run === undefined ? undefined : Number(req.query.run);
      if (run !== undefined && !Number.isInteger(run)) throw new BadRequestError('run: expected an integer', 'run');
      res.json({ system: s.name, run: s.run, state: lifecycle.displayState(s), events: eventsView(await store.listEvents(s.name, { run })) });
    },
    async renderArtifact(req, res) {
      const kind = param(req, 'kind');
      if (!isArtifactKind(kind)) throw new BadRequestError(`kind: unknown artifact ${JSON.stringify(kind)}`, 'kind');
      const s = await getOr404(param(req, 'name'));
      res.type('text/plain').send(artifacts.render(kind, s, base(req)));
    },
    async listProfiles(_req, res) {
      res.json({ profiles: registry.profiles().map(maskProfile) });
    },
    async getProfile(req, res) {
      res.json(maskProfile(registry.requireProfile(param(req, 'name'))));
    },
    async listDistros(_req, res) {
      res.json({ distros: registry.distros(), isos: o.isoStatus?.() ?? [] });
    },
    async openapi(_req, res) {
      res.json(openApiDocument());
    },
    async metrics(_req, res) {
      if (!o.metrics) throw new NotFoundError('metrics are not enabled');
      res.type(o.metrics.contentType).send(await o.metrics.render());
    },
  };

  for (const spec of ROUTES.filter((r) => !r.lean)) {
    const h = handlers[spec.name];
    if (!h) throw new Error(`route ${spec.name} has no handler`);
    for (const m of spec.methods) {
      const method = m.toLowerCase() as 'get' | 'post' | 'patch' | 'delete';
      app[method](expressPath(spec), (req: Request, res: Response, next: NextFunction) => {
        try {
          if (spec.auth) requireAdmin(req.headers, o.adminToken);
        } catch (err) {
          next(err);
          return;
        }
        h(req, res).catch(next);
      });
    }
  }
  app.use('/api', (req: Request, _res: Response, next: NextFunction) => next(new NotFoundError(`no route ${req.method} ${req.originalUrl}`)));
  // express.json() parse failures arrive here as errors with a `type`; map them to 400 too.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = err as { type?: string; status?: number; message?: string };
    if (e && e.type === 'entity.parse.failed') err = new BadRequestError(`request body is not valid JSON: ${e.message}`, '(body)');
    else if (e && e.type === 'entity.too.large') err = new BadRequestError('request body too large', '(body)');
    sendError(res, err, log, { method: req.method, path: req.path });
  });
  return app;
}
