// The API, dashboard and /metrics on express: what app.ts serves behind the lean boot path, in a
// module of its own so that loading it (express and its dependencies) can wait until the service
// is up.
import express from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpDeps } from './app.ts';
import { createApi } from './api.ts';
import { createDashboard } from './dashboard/index.ts';

/** Returns the express application of the API, the dashboard and /metrics. */
export function createAdminApp(d: HttpDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const api = createApi({ lifecycle: d.lifecycle, registry: d.registry, artifacts: d.artifacts, adminToken: d.adminToken, log: d.log, publicUrl: d.publicUrl, isoStatus: d.isoStatus, metrics: d.metrics, metricsRoute: d.metricsRoute, power: d.power });
  const dashboard = createDashboard({ ...d.dashboard, lifecycle: d.lifecycle, registry: d.registry, artifacts: d.artifacts, adminToken: d.adminToken, log: d.log, bus: d.bus, publicUrl: d.publicUrl, isoStatus: d.isoStatus, power: d.power });
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  if (d.metrics) app.use(d.metrics.httpMiddleware());
  app.use(dashboard);
  app.use(api);
  return app;
}
