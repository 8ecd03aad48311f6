// /metrics on a listener of its own (metrics.host, metrics.port), e.g. bound to loopback or a
// management network, so scrapers never share the port guests boot from. Serves GET /metrics and
// nothing else; with metrics.token set, a scrape needs that bearer token (or the admin token).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.ts';
import { NotFoundError } from '../errors.ts';
import { requireMetricsToken } from './auth.ts';
import { sendError } from './respond.ts';
import { listen } from './server.ts';

export interface MetricsListenerOptions {
  metrics: { contentType: string; render(): Promise<string> };
  host: string;
  port: number;
  token?: string;
  adminToken: string;
  log: Logger;
}

/** Returns the request listener serving only GET /metrics. */
export function metricsHandler(o: Omit<MetricsListenerOptions, 'host' | 'port'>): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    void (async () => {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) throw new NotFoundError(`no route ${req.method} ${path} on the metrics listener`);
      requireMetricsToken(req.headers, o.token, o.adminToken);
      const body = await o.metrics.render();
      res.writeHead(200, { 'content-type': o.metrics.contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    })().catch((err) => sendError(res, err, o.log, { route: 'metrics' }));
  };
}

/** Starts the metrics listener; resolves with its port and a close(). */
export async function startMetricsListener(o: MetricsListenerOptions): Promise<{ port: number; close(): Promise<void> }> {
  const { server, port } = await listen(metricsHandler(o), o.host, o.port);
  o.log.info({ host: o.host, port }, `metrics listening on ${o.host}:${port}`);
  return {
    port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
