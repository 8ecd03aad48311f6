// Fetches every path of a list exactly once over a few keep-alive HTTP/1.1 connections, as many
// machines each fetching their own kickstart would, and reports how long the whole list took.
// A minimal client on raw sockets (no agent, no header objects), so it costs the server's two
// cores as little as wrk would; wrk cannot stop when a list is done.
//   node --import tsx bench/lib/fetch-once.ts CONFIG.json
import { connect, type Socket } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';

/** What the figure passes in (a JSON file). */
export interface FetchOnceConfig {
  host: string;
  port: number;
  /** File with one request path per line. */
  pathsFile: string;
  connections: number;
  /** Where the result JSON goes. */
  out: string;
}

/** What one run measured. */
export interface FetchOnceResult {
  seconds: number;
  requests: number;
  ok: number;
  /** Status codes other than 200, by code. */
  other: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** CPU time this client used (user + system). */
  cpuSeconds: number;
}

/** Sends the paths one after another on one connection; resolves when its share is done. */
function connection(o: FetchOnceConfig, next: () => string | null, seen: (status: number, ms: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host: o.host, port: o.port });
    socket.setNoDelay(true);
    let buf: Buffer = Buffer.alloc(0);
    let sentAt = 0;
    const send = () => {
      const path = next();
      if (path === null) {
        socket.end();
        return resolve();
      }
      sentAt = performance.now();
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${o.host}:${o.port}\r\nUser-Agent: fetch-once\r\n\r\n`);
    };
    socket.on('connect', send);
    socket.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const status = Number(head.slice(9, 12));
        const len = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? NaN);
        if (!Number.isFinite(len)) return reject(new Error(`answer without content-length: ${head.slice(0, 200)}`));
        if (buf.length < end + 4 + len) return;
        buf = buf.subarray(end + 4 + len);
        seen(status, performance.now() - sentAt);
        send();
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve());
  });
}

/** Fetches every path once; returns what it measured. */
export async function fetchOnce(o: FetchOnceConfig): Promise<FetchOnceResult> {
  const paths = readFileSync(o.pathsFile, 'utf8').split('\n').filter(Boolean);
  let i = 0;
  const ms: number[] = [];
  const other: Record<string, number> = {};
  let ok = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: o.connections }, () =>
      connection(
        o,
        () => (i < paths.length ? paths[i++]! : null),
        (status, t) => {
          ms.push(t);
          if (status === 200) ok++;
          else other[status] = (other[status] ?? 0) + 1;
        },
      ),
    ),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  ms.sort((a, b) => a - b);
  const at = (p: number) => ms[Math.min(ms.length - 1, Math.max(0, Math.ceil((p / 100) * ms.length) - 1))] ?? NaN;
  return { seconds, requests: ms.length, ok, other, p50Ms: at(50), p99Ms: at(99), maxMs: ms.at(-1) ?? NaN, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const config = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as FetchOnceConfig;
  const r = await fetchOnce(config);
  writeFileSync(config.out, JSON.stringify(r));
  console.log(`${r.ok}/${r.requests} answered 200 in ${r.seconds.toFixed(2)} s (${(r.ok / r.seconds).toFixed(0)}/s)`);
}
