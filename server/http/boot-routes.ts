// The lean path: boot-critical routes (kickstarts, scripts, callbacks, iPXE, install trees) served
// straight on Node's http server with no middleware stack, matched from the shared route table.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.ts';
import { BadRequestError, NotFoundError, PayloadTooLargeError } from '../errors.ts';
import type { Artifacts } from '../boot/artifacts.ts';
import { BootPolicy } from '../boot/boot-policy.ts';
import type { Lifecycle } from '../boot/lifecycle.ts';
import type { System } from '../store/types.ts';
import { plainIp } from '../boot/match.ts';
import { parseMac } from '../profiles/mac.ts';
import { leanRoutes, type CompiledRoute } from './routes.ts';
import { serveLoader, type LoaderSource } from './loader-route.ts';
import { sendError, sendJson, sendText } from './respond.ts';

/** Serves `/trees/<distro>/<path>` (implemented over the ISO catalog). */
export type TreeHandler = (req: IncomingMessage, res: ServerResponse, distro: string, path: string) => Promise<void>;

export interface BootRoutesOptions {
  lifecycle: Lifecycle;
  /** What machines naming themselves by MAC get (default: record discovered machines). */
  policy?: BootPolicy;
  artifacts: Artifacts;
  log: Logger;
  trees?: TreeHandler;
  /** Boot loaders served at /boot/<name> (the files DHCP names). */
  loaders?: LoaderSource;
  /** Base URL guests use; derived from the Host header when unset. */
  publicUrl?: string;
  /** Called once per handled request with the route name and status (metrics). */
  observe?: (route: string, method: string, status: number) => void;
}

const SCRIPTS: Record<string, 'install' | 'rescue'> = { 'install.sh': 'install', 'rescue.sh': 'rescue' };
const TEXT = 'text/plain; charset=utf-8';
const SHELL = 'text/x-shellscript; charset=utf-8';
/** Install trees hold files from vendor ISOs: never sniffed, and sandboxed when a browser shows them (no script, no origin). */
const TREE_HEADERS: Record<string, string> = { 'x-content-type-options': 'nosniff', 'content-security-policy': "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'" };
/** Bytes of an over-long body read and thrown away after the 413 is sent, so the client reads the answer rather than a reset. */
export const DEFAULT_DISCARD_BYTES = 16 * 1024 * 1024;
export const DEFAULT_DISCARD_MS = 5_000;

/** Returns the base URL guests should use for follow-up requests. */
export function baseUrl(req: IncomingMessage, publicUrl?: string): string {
  if (publicUrl) return publicUrl.replace(/\/+$/, '');
  const host = req.headers.host;
  // Nearly every request of a boot storm carries the same Host: answer it without a regex or a concat.
  if (host === lastHost.host) return lastHost.base;
  const base = `http://${host && /^[A-Za-z0-9.:[\]-]+$/.test(host) ? host : 'localhost'}`;
  if (host) lastHost = { host, base };
  return base;
}
let lastHost = { host: '', base: '' };

/**
 * Reads a request body up to limit bytes as UTF-8; PayloadTooLargeError beyond it (at once when
 * Content-Length says so). The rest of an over-long body is read and dropped, up to a bound, so
 * the 413 reaches the client instead of a connection reset; past that bound the socket is closed.
 */
export function readBody(req: IncomingMessage, limit: number, discard = { bytes: DEFAULT_DISCARD_BYTES, ms: DEFAULT_DISCARD_MS }): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) return tooLarge();
      chunks.push(c);
    };
    const onEnd = () => resolve(Buffer.concat(chunks).toString('utf8'));
    const tooLarge = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      drain(req, discard);
      reject(new PayloadTooLargeError(`request body over ${limit} bytes`));
    };
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) return tooLarge();
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', reject);
  });
}

/** Reads and drops what is left of a request body, closing the connection past the byte or time bound. */
function drain(req: IncomingMessage, bound: { bytes: number; ms: number }): void {
  let seen = 0;
  const stop = () => req.socket.destroy();
  const timer = setTimeout(stop, bound.ms);
  timer.unref();
  req.on('data', (c: Buffer) => {
    seen += c.length;
    if (seen > bound.bytes) stop();
  });
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
  req.resume();
}

/** Returns a handler that serves lean routes and returns false for everything else. */
export function bootRoutes(o: BootRoutesOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const routes = leanRoutes();
  const { lifecycle, artifacts, log } = o;
  const policy = o.policy ?? new BootPolicy({ lifecycle, recordDiscovered: true });

  /** Sends an armed system's artifact from the render cache and records the first fetch of a run. */
  async function serveArtifact(req: IncomingMessage, res: ServerResponse, kind: 'kickstart' | 'install' | 'rescue', system: System, stage: 'kickstart' | 'script', type: string): Promise<void> {
    const bytes = artifacts.renderBytes(kind, system, baseUrl(req, o.publicUrl));
    const head = req.method === 'HEAD';
    // Repeat fetches change nothing, so only a fetch that moves the lifecycle waits for the store.
    if (!head && lifecycle.fetchChanges(system, stage)) await lifecycle.fetched(system.name, stage, plainIp(req.socket.remoteAddress));
    sendText(res, 200, bytes, type, head);
  }

  /** Returns the armed system of a token URL once the trust policy lets this source fetch it (a GET binds the run). */
  async function tokenRun(req: IncomingMessage, token: string): Promise<System> {
    const { system, tok } = await lifecycle.liveRun(token);
    await lifecycle.admitFetch(system, tok, plainIp(req.socket.remoteAddress), req.method !== 'HEAD');
    return system;
  }

  const handlers: Record<string, (req: IncomingMessage, res: ServerResponse, p: Record<string, string>, query: LazyQuery) => Promise<void>> = {
    async kickstart(req, res, p) {
      await serveArtifact(req, res, 'kickstart', await tokenRun(req, p.token!), 'kickstart', TEXT);
    },
    async kickstartByMac(req, res, _p, query) {
      const system = await policy.kickstartFor({ headers: req.headers, macQuery: query.get('mac'), sourceIp: req.socket.remoteAddress }, req.method !== 'HEAD');
      await serveArtifact(req, res, 'kickstart', system, 'kickstart', TEXT);
    },
    async script(req, res, p) {
      const kind = SCRIPTS[p.script!];
      if (!kind) throw new NotFoundError(`no script named ${JSON.stringify(p.script)}`);
      await serveArtifact(req, res, kind, await tokenRun(req, p.token!), 'script', SHELL);
    },
    async event(req, res, p, query) {
      const source = plainIp(req.socket.remoteAddress);
      let message = query.get('message') ?? query.get('msg');
      let logText: string | null = null;
      if (req.method === 'POST') {
        // Token, source and caps first: a body is read only for a report that can count.
        await lifecycle.admitReport(p.token!, p.stage!, source);
        const body = await readBody(req, lifecycle.maxLogBytes + 4096);
        if (p.stage === 'failed') logText = body || null;
        else if (body) message = body;
      }
      const r = await lifecycle.report(p.token!, p.stage!, { message, log: logText, source });
      sendJson(res, 200, { system: r.system.name, state: r.system.state, recorded: r.recorded });
    },
    async ipxeEntry(req, res) {
      sendText(res, 200, artifacts.renderEntry(baseUrl(req, o.publicUrl)), TEXT);
    },
    async ipxeMac(req, res, p) {
      const mac = parseMac(p.mac!);
      if (!mac) throw new BadRequestError(`invalid MAC address ${JSON.stringify(p.mac)}`, 'mac');
      const base = baseUrl(req, o.publicUrl);
      const system = await policy.menuFor(mac, plainIp(req.socket.remoteAddress), 'ipxe');
      // The MAC the menu was asked for is the one booting: its kernel line names it (BOOTIF).
      sendText(res, 200, system ? artifacts.render('ipxe', system, base, mac) : artifacts.renderDefault('ipxe', base), TEXT);
    },
    async bootLoader(req, res, p) {
      await serveLoader(req, res, p.file!, o.loaders);
    },
    async tree(req, res, p) {
      if (!o.trees) throw new NotFoundError('no install trees are served');
      for (const [k, v] of Object.entries(TREE_HEADERS)) res.setHeader(k, v);
      await o.trees(req, res, p.distro!, p['*'] ?? '');
    },
  };

  // Index the routes by their first path segment so a request tries only the routes that can match.
  const byFirst = new Map<string, CompiledRoute[]>();
  for (const r of routes) {
    const first = r.spec.path.split('/')[1]!;
    byFirst.set(first, [...(byFirst.get(first) ?? []), r]);
  }
  const observe = o.observe;

  return (req, res) => {
    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    const path = q >= 0 ? raw.slice(0, q) : raw;
    const slash = path.indexOf('/', 1);
    const candidates = byFirst.get(slash < 0 ? path.slice(1) : path.slice(1, slash));
    if (!candidates) return false;
    let route: CompiledRoute | undefined;
    let params: Record<string, string> | null = null;
    for (const r of candidates) {
      params = r.match(path);
      if (params) {
        route = r;
        break;
      }
    }
    if (!route || !params) return false;
    const { spec } = route;
    const method = req.method ?? 'GET';
    if (!spec.methods.includes(method as never)) {
      res.setHeader('allow', spec.methods.join(', '));
      sendJson(res, 405, { error: { code: 'bad_request', message: `method ${method} not allowed on ${spec.path}` } });
      observe?.(spec.name, method, 405);
      return true;
    }
    // Only the routes that read the query pay for parsing it.
    const query = new LazyQuery(q >= 0 ? raw.slice(q + 1) : '');
    // Count the request once its status is final (no named closures here: tsx's keepNames would
    // wrap each one, per request).
    handlers[spec.name]!(req, res, params, query).then(
      () => counted(res, spec.name, method, observe),
      (err) => {
        sendError(res, err, log, { route: spec.name });
        counted(res, spec.name, method, observe);
      },
    );
    return true;
  };
}

/** Counts a request at once when the handler has answered, at 'finish' when it is still streaming (install trees). */
function counted(res: ServerResponse, route: string, method: string, observe: BootRoutesOptions['observe']): void {
  if (!observe) return;
  if (res.headersSent) observe(route, method, res.statusCode);
  else res.once('finish', () => observe(route, method, res.statusCode));
}

/** The query string of a request, parsed on first use. */
class LazyQuery {
  private parsed: URLSearchParams | null = null;
  constructor(private readonly text: string) {}

  /** Returns the first value of a query parameter, or null. */
  get(name: string): string | null {
    if (this.text === '') return null;
    this.parsed ??= new URLSearchParams(this.text);
    return this.parsed.get(name);
  }
}
