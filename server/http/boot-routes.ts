// The lean path: boot-critical routes (kickstarts, scripts, callbacks, iPXE, install trees) served
// straight on Node's http server with no middleware stack, matched from the shared route table.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.ts';
import { BadRequestError, NotFoundError, PayloadTooLargeError } from '../errors.ts';
import type { Artifacts } from '../boot/artifacts.ts';
import type { Lifecycle } from '../boot/lifecycle.ts';
import { matchSystem, plainIp } from '../boot/match.ts';
import { parseMac } from '../profiles/mac.ts';
import { leanRoutes, type CompiledRoute } from './routes.ts';
import { sendError, sendJson, sendText } from './respond.ts';

/** Serves `/trees/<distro>/<path>` (implemented over the ISO catalog). */
export type TreeHandler = (req: IncomingMessage, res: ServerResponse, distro: string, path: string) => Promise<void>;

export interface BootRoutesOptions {
  lifecycle: Lifecycle;
  artifacts: Artifacts;
  log: Logger;
  trees?: TreeHandler;
  /** Base URL guests use; derived from the Host header when unset. */
  publicUrl?: string;
  /** Called once per handled request with the route name and status (metrics). */
  observe?: (route: string, method: string, status: number) => void;
}

const SCRIPTS: Record<string, 'install' | 'rescue'> = { 'install.sh': 'install', 'rescue.sh': 'rescue' };
const TEXT = 'text/plain; charset=utf-8';

/** Returns the base URL guests should use for follow-up requests. */
export function baseUrl(req: IncomingMessage, publicUrl?: string): string {
  if (publicUrl) return publicUrl.replace(/\/+$/, '');
  const host = req.headers.host && /^[A-Za-z0-9.:[\]-]+$/.test(req.headers.host) ? req.headers.host : 'localhost';
  return `http://${host}`;
}

/** Reads a request body up to limit bytes as UTF-8; 413 beyond it. */
export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new PayloadTooLargeError(`request body over ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Returns a handler that serves lean routes and returns false for everything else. */
export function bootRoutes(o: BootRoutesOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const routes = leanRoutes();
  const { lifecycle, artifacts, log } = o;
  const store = lifecycle.store;

  const handlers: Record<string, (req: IncomingMessage, res: ServerResponse, p: Record<string, string>, url: URL) => Promise<void>> = {
    async kickstart(req, res, p) {
      const system = await lifecycle.systemForArtifact(p.token!);
      const text = artifacts.render('kickstart', system, baseUrl(req, o.publicUrl));
      if (req.method === 'GET') await lifecycle.fetched(system.name, 'kickstart', plainIp(req.socket.remoteAddress));
      sendText(res, 200, text, TEXT, req.method === 'HEAD');
    },
    async kickstartByMac(req, res, _p, url) {
      const system = await matchSystem(store, { headers: req.headers, macQuery: url.searchParams.get('mac'), sourceIp: req.socket.remoteAddress });
      if (!system.build || !system.token) throw new NotFoundError('no armed system matches this request');
      const text = artifacts.render('kickstart', system, baseUrl(req, o.publicUrl));
      if (req.method === 'GET') await lifecycle.fetched(system.name, 'kickstart', plainIp(req.socket.remoteAddress));
      sendText(res, 200, text, TEXT, req.method === 'HEAD');
    },
    async script(req, res, p) {
      const kind = SCRIPTS[p.script!];
      if (!kind) throw new NotFoundError(`no script named ${JSON.stringify(p.script)}`);
      const system = await lifecycle.systemForArtifact(p.token!);
      const text = artifacts.render(kind, system, baseUrl(req, o.publicUrl));
      if (req.method === 'GET') await lifecycle.fetched(system.name, 'script', plainIp(req.socket.remoteAddress));
      sendText(res, 200, text, 'text/x-shellscript; charset=utf-8', req.method === 'HEAD');
    },
    async event(req, res, p, url) {
      let message = url.searchParams.get('message') ?? url.searchParams.get('msg');
      let logText: string | null = null;
      if (req.method === 'POST') {
        const body = await readBody(req, lifecycle.maxLogBytes + 4096);
        if (p.stage === 'failed') logText = body || null;
        else if (body) message = body;
      }
      const r = await lifecycle.report(p.token!, p.stage!, { message, log: logText, source: plainIp(req.socket.remoteAddress) });
      sendJson(res, 200, { system: r.system.name, state: r.system.state, recorded: r.recorded });
    },
    async ipxeEntry(req, res) {
      sendText(res, 200, artifacts.renderEntry(baseUrl(req, o.publicUrl)), TEXT);
    },
    async ipxeMac(req, res, p) {
      const mac = parseMac(p.mac!);
      if (!mac) throw new BadRequestError(`invalid MAC address ${JSON.stringify(p.mac)}`, 'mac');
      const base = baseUrl(req, o.publicUrl);
      const [system] = await store.findSystemsByMacs([mac]);
      if (!system || system.state === 'discovered' || !system.profile) {
        await lifecycle.discovered(mac, plainIp(req.socket.remoteAddress));
        sendText(res, 200, artifacts.renderDefault('ipxe', base), TEXT);
        return;
      }
      if (system.build) await lifecycle.pxe(system.name, plainIp(req.socket.remoteAddress), 'ipxe');
      sendText(res, 200, artifacts.render('ipxe', system, base), TEXT);
    },
    async tree(req, res, p) {
      if (!o.trees) throw new NotFoundError('no install trees are served');
      await o.trees(req, res, p.distro!, p['*'] ?? '');
    },
  };

  return (req, res) => {
    const method = req.method ?? 'GET';
    const q = req.url?.indexOf('?') ?? -1;
    const path = q >= 0 ? req.url!.slice(0, q) : (req.url ?? '/');
    let hit: { route: CompiledRoute; params: Record<string, string> } | null = null;
    for (const route of routes) {
      const params = route.match(path);
      if (params) {
        hit = { route, params };
        break;
      }
    }
    if (!hit) return false;
    const { spec } = hit.route;
    if (!spec.methods.includes(method as never)) {
      res.setHeader('allow', spec.methods.join(', '));
      sendJson(res, 405, { error: { code: 'bad_request', message: `method ${method} not allowed on ${spec.path}` } });
      o.observe?.(spec.name, method, 405);
      return true;
    }
    const url = new URL(req.url ?? '/', 'http://x');
    res.on('finish', () => o.observe?.(spec.name, method, res.statusCode));
    handlers[spec.name]!(req, res, hit.params, url).catch((err) => sendError(res, err, log, { route: spec.name }));
    return true;
  };
}
