// Builds the whole HTTP request listener from its parts (used by main and by the tests).
import type { IncomingMessage, ServerResponse } from 'node:http';
import express from 'express';
import type { Logger } from '../log.ts';
import type { Artifacts } from '../boot/artifacts.ts';
import type { BootPolicy } from '../boot/boot-policy.ts';
import type { Lifecycle } from '../boot/lifecycle.ts';
import type { ProfileRegistry } from '../profiles/registry.ts';
import { createApi } from './api.ts';
import { bootRoutes, type TreeHandler } from './boot-routes.ts';
import { createDashboard, type DashboardOptions, type EventBus } from './dashboard/index.ts';
import type { Metrics } from './metrics.ts';
import type { LoaderSource } from './loader-route.ts';
import { combine } from './server.ts';
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

/** Returns the request listener serving the boot path, the dashboard, /metrics, the API and health checks. */
export function createHttpHandler(d: HttpDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const observe = d.metrics || d.observe ? (route: string, method: string, status: number) => {
    d.observe?.(route, method, status);
    d.metrics?.observeHttp(route, method, status);
  } : undefined;
  const lean = bootRoutes({ lifecycle: d.lifecycle, policy: d.policy, artifacts: d.artifacts, log: d.log, trees: d.trees, loaders: d.loaders, publicUrl: d.publicUrl, observe });
  const api = createApi({ lifecycle: d.lifecycle, registry: d.registry, artifacts: d.artifacts, adminToken: d.adminToken, log: d.log, publicUrl: d.publicUrl, isoStatus: d.isoStatus, metrics: d.metrics, metricsRoute: d.metricsRoute, power: d.power });
  const dashboard = createDashboard({ ...d.dashboard, lifecycle: d.lifecycle, registry: d.registry, artifacts: d.artifacts, adminToken: d.adminToken, log: d.log, bus: d.bus, publicUrl: d.publicUrl, isoStatus: d.isoStatus, power: d.power });
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  if (d.metrics) app.use(d.metrics.httpMiddleware());
  app.use(dashboard);
  app.use(api);
  return combine(lean, app);
}
