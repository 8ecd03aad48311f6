// TFTP under a flood of requests that never answer: 500 sockets on 72 loopback addresses keep
// asking for a file with timeout=255 and never acknowledge anything (before, they filled every
// transfer slot for 6 × 255 s and real clients got "server busy"). Real clients (curl, atftp,
// tftp-hpa) fetching from the real service (kickstand serve, default limits) in the same namespace
// must finish within a few times their time on a quiet server, byte for byte, while the flood gets
// back only a bounded trickle.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePackages, isRoot } from './lib/apt.ts';
import { createNetns, ip, type Netns } from './lib/netns.ts';
import { REPO, startTftpService, type TftpService } from './lib/tftp-service.ts';

const CI = process.env.CI === 'true';
const FLOOD = 500;
const FLOOD_SECONDS = 25;

/** The clients, each fetching big.bin from 127.0.0.1 into `out` from its own address. */
const CLIENTS: Record<string, (out: string) => string> = {
  curl: (out) => `curl -s -f --max-time 60 --interface 127.0.9.1 --tftp-blksize 1468 -o ${out} tftp://127.0.0.1/big.bin`,
  atftp: (out) => `atftp -g -r big.bin -l ${out} --option 'blksize 1468' 127.0.0.1 69`,
  'tftp-hpa': (out) => `tftp -4 -m binary 127.0.0.1 -c get big.bin ${out}`,
};

describe('tftp keeps serving real clients under a flood of silent requests', { skip: isRoot() || CI ? false : 'needs root for namespaces' }, () => {
  let ns: Netns;
  let svc: TftpService;
  const file = randomBytes(8 * 1024 * 1024);
  const want = createHash('sha256').update(file).digest('hex');
  const quiet: Record<string, number> = {};

  /** Runs a client in the namespace; returns seconds taken and whether the bytes are right. */
  function fetch(name: string): { seconds: number; ok: boolean } {
    const out = join(svc.dir, `${name}.out`);
    const t0 = performance.now();
    ns.exec('sh', ['-c', `rm -f ${out}; ${CLIENTS[name]!(out)}; sha256sum ${out} > ${out}.sum || true`], { timeout: 120_000 });
    const seconds = (performance.now() - t0) / 1000;
    const sum = ns.exec('sh', ['-c', `cat ${out}.sum 2>/dev/null || true`]);
    return { seconds, ok: sum.split(' ')[0] === want };
  }

  before(async () => {
    ensurePackages(['curl', 'atftp', 'tftp-hpa', 'iproute2']);
    ns = createNetns('ks-tfl-');
    // getaddrinfo's AI_ADDRCONFIG ignores loopback: with no other address, tftp-hpa cannot resolve
    // "127.0.0.1". A veth pair inside the namespace (private address) gives it one.
    ip('-n', ns.name, 'link', 'add', 'ksfa', 'type', 'veth', 'peer', 'name', 'ksfb');
    ip('-n', ns.name, 'addr', 'add', '10.235.0.1/30', 'dev', 'ksfa');
    ip('-n', ns.name, 'link', 'set', 'ksfa', 'up');
    ip('-n', ns.name, 'link', 'set', 'ksfb', 'up');
    svc = await startTftpService(ns);
    writeFileSync(join(svc.root, 'big.bin'), file);
    for (const name of Object.keys(CLIENTS)) {
      const r = fetch(name);
      assert.ok(r.ok, `${name} fetches on a quiet server`);
      quiet[name] = r.seconds;
    }
  });

  after(() => {
    svc?.stop();
    ns?.cleanup();
  });

  test(`${FLOOD} silent requests asking timeout=255 do not keep curl, atftp or tftp-hpa from finishing in their normal time`, async () => {
    const flood = ns.spawn(process.execPath, ['--import', 'tsx', join(REPO, 'test/system/lib/tftp-flood.ts'), '127.0.0.1', 'big.bin', String(FLOOD), String(FLOOD_SECONDS)], { cwd: REPO });
    let floodOut = '';
    flood.stdout!.on('data', (d: Buffer) => (floodOut += d));
    const floodDone = new Promise<void>((resolve) => flood.once('exit', () => resolve()));
    await new Promise((r) => setTimeout(r, 3000)); // the flood is in full swing (every slot it can take)
    for (const name of Object.keys(CLIENTS)) {
      const r = fetch(name);
      assert.ok(r.ok, `${name} got the file byte for byte under the flood`);
      const bound = 3 * quiet[name]! + 2;
      assert.ok(r.seconds <= bound, `${name} took ${r.seconds.toFixed(2)} s under the flood, ${quiet[name]!.toFixed(2)} s on a quiet server (bound ${bound.toFixed(1)} s)`);
    }
    await floodDone;
    const f = JSON.parse(floodOut) as { sent: number; bytesOut: number; packetsIn: number; bytesIn: number };
    // Each silent request gets its OACK and one resend, or one OACK per repeat once 200 ms have passed.
    assert.ok(f.bytesIn <= f.bytesOut * 2, `the flood sent ${f.bytesOut} bytes and got ${f.bytesIn} back`);
    assert.ok(!/server busy|tftp\.max_transfers/.test(svc.log()), 'no real client was held back for lack of transfer slots');
  });
});
