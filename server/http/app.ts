// Builds the whole HTTP request listener from its parts (used by main and by the tests).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.ts';
import type { Artifacts } from '../boot/artifacts.ts';
import type { Lifecycle } from '../boot/lifecycle.ts';
import type { ProfileRegistry } from '../profiles/registry.ts';
import { createApi } from './api.ts';
import { bootRoutes, type TreeHandler } from './boot-routes.ts';
import { combine } from './server.ts';

export interface HttpDeps {
  lifecycle: Lifecycle;
  registry: ProfileRegistry;
  artifacts: Artifacts;
  adminToken: string;
  log: Logger;
  publicUrl?: string;
  trees?: TreeHandler;
  isoStatus?: () => unknown[];
  observe?: (route: string, method: string, status: number) => void;
}

/** Returns the request listener serving the boot path, the API and health checks. */
export function createHttpHandler(d: HttpDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const lean = bootRoutes({ lifecycle: d.lifecycle, artifacts: d.artifacts, log: d.log, trees: d.trees, publicUrl: d.publicUrl, observe: d.observe });
  const api = createApi({ lifecycle: d.lifecycle, registry: d.registry, artifacts: d.artifacts, adminToken: d.adminToken, log: d.log, publicUrl: d.publicUrl, isoStatus: d.isoStatus });
  return combine(lean, api);
}
