// By-hand probe: what a cold read of a system and its token costs in the SQLite store (the first
// fetch's findToken + getSystem, outside the read cache), as the service opens the file. Not part
// of `npm run bench`.
//   node --import tsx bench/cold-read-probe.ts [systems=10000] [rounds=3]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../server/store/sqlite.ts';
import { armSystems } from './lib/armed-store.ts';

const N = Number(process.argv[2] ?? 10000);
const rounds = Number(process.argv[3] ?? 3);
const dir = mkdtempSync(join(tmpdir(), 'ks-cold-'));
const file = join(dir, 'kickstand.sqlite');
try {
  const tokens = await armSystems(file, N, 'cr', 0x300000);
  for (let r = 0; r < rounds; r++) {
    const store = openSqliteStore(file, { backgroundCheckpoint: true });
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (const t of tokens) {
      const tok = await store.findToken(t);
      if (!tok || !(await store.getSystem(tok.system))) throw new Error('missing');
    }
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(c0);
    console.log(`round ${r + 1}: ${((wall * 1000) / N).toFixed(1)} µs wall, ${((cpu.user + cpu.system) / N).toFixed(1)} µs CPU per cold token + system read`);
    await store.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
