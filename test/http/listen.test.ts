import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { listen } from '../../server/http/server.ts';
import { configSchema } from '../../server/config/schema.ts';

// A child process opens many connections while this process cannot accept any (execFileSync holds
// its event loop), the way a storm's connections pile up while kickstand is busy. It prints how
// many handshakes the kernel completed within half a second: past a full accept queue the kernel
// drops the handshake, and the client only hears a reset tens of seconds later.
const CLIENT = `
const net = require('node:net');
const [port, n] = process.argv.slice(1).map(Number);
let connected = 0;
const sockets = [];
for (let i = 0; i < n; i++) {
  const s = net.connect(port, '127.0.0.1', () => connected++);
  s.on('error', () => {});
  sockets.push(s);
}
setTimeout(() => { process.stdout.write(String(connected)); for (const s of sockets) s.destroy(); }, 500);
`;

function connectedWhileBlocked(port: number, n: number): number {
  return Number(execFileSync(process.execPath, ['-e', CLIENT, String(port), String(n)], { encoding: 'utf8', timeout: 30_000 }));
}

const somaxconn = (() => {
  try {
    return Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
  } catch {
    return 4096;
  }
})();

test('the HTTP listener queues http.backlog connections while its event loop is busy, not the 511 of node\'s default', async (t) => {
  const { backlog } = configSchema.parse({}).http;
  assert.equal(backlog, 4096);
  const n = 900;
  if (somaxconn < n) return t.skip(`net.core.somaxconn is ${somaxconn}: the kernel clamps every backlog below ${n}`);
  const configured = await listen((_req, res) => res.end('ok'), '127.0.0.1', 0, backlog);
  const fallback = await listen((_req, res) => res.end('ok'), '127.0.0.1', 0);
  try {
    assert.equal(connectedWhileBlocked(configured.port, n), n, 'every handshake completed');
    const short = connectedWhileBlocked(fallback.port, n);
    assert.ok(short < n && short <= 520, `node's default queue held ${short} of ${n}`);
  } finally {
    for (const s of [configured.server, fallback.server]) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  }
});
