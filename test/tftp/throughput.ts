// Measures TFTP throughput on loopback: kickstand's server in this process, curl and atftp as
// clients (whichever are installed), blksize 1468, windowsize 1 and 16. Not a test: run it by hand.
//   node --import tsx test/tftp/throughput.ts [sizeMiB=64] [runs=5]
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileSource } from '../../server/byte-source.ts';
import { silentLogger } from '../../server/log.ts';
import { TftpServer } from '../../server/tftp/index.ts';

const sizeMiB = Number(process.argv[2] ?? 64);
const runs = Number(process.argv[3] ?? 5);

function run(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve) => execFile(cmd, args, { timeout: 120_000 }, (err) => resolve(err ? 1 : 0)));
}

const dir = await mkdtemp(join(tmpdir(), 'ks-tftp-bench-'));
const file = join(dir, 'file.bin');
const data = randomBytes(sizeMiB * 1024 * 1024);
await writeFile(file, data);
const want = createHash('sha256').update(data).digest('hex');
const server = new TftpServer({ host: '127.0.0.1', port: 0, log: silentLogger(), handler: async () => fileSource(file) });
const { port } = await server.listen();
const out = join(dir, 'out.bin');

const clients: Array<{ name: string; cmd: string; args: string[] }> = [
  { name: 'curl blksize 1468 (windowsize 1)', cmd: 'curl', args: ['-s', '--tftp-blksize', '1468', '-o', out, `tftp://127.0.0.1:${port}/file.bin`] },
  { name: 'atftp blksize 1468 windowsize 1', cmd: 'atftp', args: ['-g', '-r', 'file.bin', '-l', out, '--option', 'blksize 1468', '--option', 'windowsize 1', '127.0.0.1', String(port)] },
  { name: 'atftp blksize 1468 windowsize 16', cmd: 'atftp', args: ['-g', '-r', 'file.bin', '-l', out, '--option', 'blksize 1468', '--option', 'windowsize 16', '127.0.0.1', String(port)] },
];

try {
  console.log(`${sizeMiB} MiB over loopback, ${runs} runs each (seconds: best / median)`);
  for (const c of clients) {
    const times: number[] = [];
    let ok = true;
    for (let i = 0; i < runs; i++) {
      await rm(out, { force: true });
      const t0 = performance.now();
      const code = await run(c.cmd, c.args);
      times.push((performance.now() - t0) / 1000);
      if (code !== 0) ok = false;
    }
    if (ok) ok = createHash('sha256').update(await readFile(out)).digest('hex') === want;
    times.sort((a, b) => a - b);
    const best = times[0];
    const median = times[Math.floor(times.length / 2)];
    console.log(`${c.name.padEnd(36)} ${best.toFixed(2)} / ${median.toFixed(2)} s  ${(sizeMiB / best).toFixed(0)} MiB/s best${ok ? '' : '  FAILED (exit code or sha256)'}`);
  }
  const s = server.stats();
  console.log(`server: ${s.transfersCompleted} completed, ${s.transfersFailed} failed, ${s.retransmissions} retransmissions`);
} finally {
  await server.close();
  await rm(dir, { recursive: true, force: true });
}
