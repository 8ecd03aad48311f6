// Figure: start-up of the compiled build, against `node -e 0` in the same run. `kickstand profile
// list` (a whole short command) with hyperfine; `kickstand serve` until it is ready (HTTP and TFTP
// listening, the "kickstand ready" line written): hyperfine only times commands that exit, so the
// figure spawns both the service and `node -e 0` itself, alternating, and times each from spawn to
// the ready line (to the exit for node -e 0).
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../lib/kickstand.ts';
import { run } from '../lib/procs.ts';
import { fmt, median, ratio } from '../lib/result.ts';
import type { Figure } from './types.ts';

/** Targets of the issue: a short command within 2× of bare node, the service ready within 3×. */
export const CLI_TARGET = 2;
export const SERVE_TARGET = 3;

/** Times one spawn of argv until `ready` matches its output (or, without it, until it exits); returns ms. */
function timeSpawn(argv: string[], env: NodeJS.ProcessEnv, ready: RegExp | null): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let t: number | null = null;
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (d) => {
      out += d;
      if (ready && t === null && ready.test(out)) {
        t = performance.now() - t0;
        child.kill('SIGTERM');
      }
    });
    child.stderr.on('data', (d) => (out += d));
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (ready) return t !== null ? resolve(t) : reject(new Error(`${argv.join(' ')} never became ready:\n${out}`));
      return code === 0 ? resolve(performance.now() - t0) : reject(new Error(`${argv.join(' ')} exited ${code}:\n${out}`));
    });
  });
}

export const cliFigure: Figure = async (ctx) => {
  ctx.log('building (npm run build, when stale)');
  const built = await run(process.execPath, ['scripts/build.mjs', '--if-stale'], { cwd: ROOT, timeoutMs: 600_000 });
  if (built.code !== 0) throw new Error(`npm run build failed: ${built.stderr}`);
  mkdirSync(join(ctx.dir, 'isos'), { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'production',
    KICKSTAND_DATA_DIR: join(ctx.dir, 'var'),
    KICKSTAND_ISOS_DIR: join(ctx.dir, 'isos'),
    KICKSTAND_HTTP__HOST: '127.0.0.1',
    KICKSTAND_HTTP__PORT: '0',
    KICKSTAND_TFTP__HOST: '127.0.0.1',
    KICKSTAND_TFTP__PORT: '0',
  };
  const node = process.execPath;
  const runs = ctx.quick ? 10 : 40;

  // The first start writes the admin token and creates the database: an installation as an
  // operator has it, on which the commands below are timed (profile list reads its cached profiles).
  await timeSpawn([node, 'bin/kickstand.js', 'serve'], env, /kickstand ready/);

  // Interleaved rounds: hyperfine runs all of one command before the other, so a change of the
  // machine's load during a run would fall on one side only; five short runs alternate the two.
  const rounds = 5;
  const perRound = runs / rounds;
  ctx.log(`hyperfine: node -e 0 vs kickstand profile list, ${rounds} rounds of ${perRound} runs each`);
  const cmds = [`${node} -e 0`, `${node} bin/kickstand.js profile list`];
  const results: Array<Array<{ median: number; mean: number; stddev: number }>> = [];
  for (let r = 0; r < rounds; r++) {
    const json = join(ctx.dir, `hyperfine-${r}.json`);
    const hf = await run('hyperfine', ['-N', '--warmup', '3', '--runs', String(perRound), '--export-json', json, ...cmds], { cwd: ROOT, env, timeoutMs: 600_000 });
    if (hf.code !== 0) throw new Error(`hyperfine failed: ${hf.stderr}`);
    results.push((JSON.parse(readFileSync(json, 'utf8')) as { results: Array<{ median: number; mean: number; stddev: number }> }).results);
  }
  const bare = median(results.map((r) => r[0]!.median * 1000));
  const list = median(results.map((r) => r[1]!.median * 1000));

  ctx.log(`serve until ready vs node -e 0, ${runs} alternating spawns`);
  const serveMs: number[] = [];
  const nodeMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    nodeMs.push(await timeSpawn([node, '-e', '0'], env, null));
    serveMs.push(await timeSpawn([node, 'bin/kickstand.js', 'serve'], env, /kickstand ready/));
  }
  const serve = median(serveMs);
  const bareSpawn = median(nodeMs);
  return {
    title: 'Start-up of the compiled build',
    tables: [
      {
        caption: `Median wall time; for the short command the median of ${rounds} hyperfine rounds (${perRound} runs of each command after 3 warm-ups per round), for the service ${runs} alternating spawns`,
        columns: ['command', 'median', 'node -e 0 (same run)', 'ratio'],
        rows: [
          ['kickstand profile list', `${fmt(list, 1)} ms`, `${fmt(bare, 1)} ms`, ratio(list, bare)],
          ['kickstand serve, until ready', `${fmt(serve, 1)} ms`, `${fmt(bareSpawn, 1)} ms`, ratio(serve, bareSpawn)],
        ],
      },
    ],
    checks: [
      { target: `kickstand profile list within ${CLI_TARGET}× of node -e 0`, measured: `${fmt(list, 1)} ms vs ${fmt(bare, 1)} ms`, ratio: ratio(list, bare), pass: list <= CLI_TARGET * bare },
      { target: `kickstand serve ready within ${SERVE_TARGET}× of node -e 0`, measured: `${fmt(serve, 1)} ms vs ${fmt(bareSpawn, 1)} ms`, ratio: ratio(serve, bareSpawn), pass: serve <= SERVE_TARGET * bareSpawn },
    ],
    commands: [
      'npm run build',
      `hyperfine -N --warmup 3 --runs ${perRound} 'node -e 0' 'node bin/kickstand.js profile list'   # ${rounds} rounds`,
      'node bin/kickstand.js serve   # timed from spawn to its "kickstand ready" log line, alternating with node -e 0 timed to its exit',
    ],
    notes: [
      `${process.version}. The service runs with TFTP on, DHCP off, an empty ISO folder and the example profiles and templates; its data folder is created by an untimed first start, before either command is timed, as on an installed server (the resolved profile set is cached there under the build id; a changed profile file or build reads the YAML again).`,
      'The CLI runs from dist/kickstand/ (one esbuild bundle, a chunk per command); the service is ready when HTTP and TFTP listen and systemd would be told READY=1.',
    ],
    raw: { hyperfine: results, serveMs, nodeMs },
  };
};
