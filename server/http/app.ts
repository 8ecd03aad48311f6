// Builds the whole HTTP request listener from its parts (used by main and by the tests): the lean
// boot path at once, and the API, dashboard and /metrics (express, admin-app.ts) loaded beside it.
// express with its dependencies is most of the service's code by size (body-parser's iconv-lite,
// mime-db), so the service is ready for booting machines before it has compiled them; a request
// for the API in that moment waits for it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.ts';
import type { Artifacts } from '../boot/artifacts.ts';
import type { BootPolicy } from '../boot/boot-policy.ts';
import type { Lifecycle } from '../boot/lifecycle.ts';
import type { ProfileRegistry } from '../profiles/registry.ts';
import { bootRoutes, type TreeHandler } from './boot-routes.ts';
import type { DashboardOptions, EventBus } from './dashboard/index.ts';
import type { Metrics } from './metrics.ts';
import type { LoaderSource } from './loader-route.ts';
import type { PowerControl } from '../boot/power-control.ts';

export interface HttpDeps {
  lifecycle: Lifecycle;
  /** What machines naming themselves by MAC get (default: record discovered machines, trust from the lifecycle). */
  policy?: BootPolicy;
  registry: ProfileRegistry;
  artifacts: Artifacts;
  adminToken: string;
  log: Logger;
  publicUrl?: string;
  trees?: TreeHandler;
  /** Boot loaders served at /boot/<name>. */
  loaders?: LoaderSource;
  isoStatus?: () => unknown[];
  observe?: (route: string, method: string, status: number) => void;
  /** Counts HTTP requests and serves /metrics. */
  metrics?: Metrics;
  /** false: /metrics has a listener of its own; token: scrapers must send it (or the admin token). */
  metricsRoute?: false | { token?: string };
  /** Live dashboard updates: the lifecycle's onEvent publishes to this bus. */
  bus?: EventBus;
  /** Power control: API routes, the dashboard's power column and button. */
  power?: PowerControl;
  /** Dashboard session and stream settings. */
  dashboard?: Pick<DashboardOptions, 'secureCookies' | 'sessionTtlMs' | 'loginFailures' | 'heartbeatMs' | 'maxStreams' | 'clock'>;
}

/** A request listener; load() resolves once the API and dashboard are ready (main calls it once the service is up). */
export type HttpHandler = ((req: IncomingMessage, res: ServerResponse) => void) & { load(): Promise<void> };

/** Returns the request listener serving the boot path, the dashboard, /metrics, the API and health checks. */
export function createHttpHandler(d: HttpDeps): HttpHandler {
  const observe = d.metrics || d.observe ? (route: string, method: string, status: number) => {
    d.observe?.(route, method, status);
    d.metrics?.observeHttp(route, method, status);
  } : undefined;
  const lean = bootRoutes({ lifecycle: d.lifecycle, policy: d.policy, artifacts: d.artifacts, log: d.log, trees: d.trees, loaders: d.loaders, publicUrl: d.publicUrl, observe });
  let app: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;
  let loading: Promise<void> | null = null;
  const load = (): Promise<void> =>
    (loading ??= import('./admin-app.ts').then((m) => {
      app = m.createAdminApp(d);
    }));
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    if (lean(req, res)) return;
    if (app) return app(req, res);
    load().then(
      () => app!(req, res),
      (err: unknown) => {
        d.log.error({ err: (err as Error).message }, 'the API and dashboard could not be loaded');
        res.statusCode = 500;
        res.end();
      },
    );
  };
  return Object.assign(handler, { load });
}
