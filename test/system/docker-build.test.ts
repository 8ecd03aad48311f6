// The Dockerfile's build stage, run without Docker: its COPY lines copy the repository's files into
// a clean temporary folder, its RUN lines run there (`npm ci`, `npm run build`, `npm prune
// --omit=dev`: the same build CI runs), then the runtime stage's files are assembled beside them
// and its CMD starts with plain node: no tsx, no TypeScript sources, only production packages.
// The HEALTHCHECK command must then pass against it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dockerStages, execForm, parseDockerfile } from '../dockerfile.ts';

const ROOT = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');
const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

/** Copies `COPY src… dest` from the repository (or, with --from=build, from the build folder) into dir. */
function copy(args: string, dir: string, buildDir: string): void {
  const from = /^--from=(\S+)\s+/.exec(args);
  const parts = args.replace(/^--from=\S+\s+/, '').split(/\s+/);
  const dest = parts.pop()!;
  for (const src of parts) {
    const source = from ? join(buildDir, src.replace(/^\/app\/?/, '')) : join(ROOT, src);
    const target = dest.endsWith('/') ? join(dir, dest.replace(/^\/app\/?/, ''), src.split('/').pop()!) : join(dir, dest.replace(/^\/app\/?/, ''));
    cpSync(source, target, { recursive: true });
  }
}

test('the Dockerfile build stage builds dist/ in a clean copy and the runtime stage serves from it with plain node', { timeout: 1_800_000 }, async () => {
  const [build, runtime] = dockerStages(text);
  assert.ok(build && runtime);
  const tmp = mkdtempSync(join(tmpdir(), 'ks-docker-'));
  const buildDir = join(tmp, 'build');
  const appDir = join(tmp, 'app');
  mkdirSync(buildDir);
  mkdirSync(appDir);
  try {
    for (const ins of build.instructions) {
      if (ins.keyword === 'COPY') copy(ins.args, buildDir, buildDir);
      // No prebuilt addon can be downloaded here (only the package registries are reachable):
      // better-sqlite3 compiles from source at once instead of trying first.
      if (ins.keyword === 'RUN') execFileSync('sh', ['-ec', ins.args], { cwd: buildDir, stdio: 'inherit', timeout: 900_000, env: { ...process.env, npm_config_build_from_source: 'true' } });
    }
    assert.ok(existsSync(join(buildDir, 'dist/kickstand/main.js')), 'the build wrote the bundled CLI');
    assert.ok(!existsSync(join(buildDir, 'node_modules/tsx')), 'tsx is a dev dependency, pruned');
    assert.ok(!existsSync(join(buildDir, 'node_modules/typescript')), 'typescript is a dev dependency, pruned');

    for (const ins of runtime.instructions) if (ins.keyword === 'COPY') copy(ins.args, appDir, buildDir);
    assert.ok(!existsSync(join(appDir, 'server')), 'no TypeScript sources in the image');
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: tmp };
    for (const ins of runtime.instructions.filter((i) => i.keyword === 'ENV')) {
      for (const m of ins.args.matchAll(/(\w+)=(\S+)/g)) env[m[1]!] = m[2]!.replace(/^\/var\/lib\/kickstand$/, join(tmp, 'data')).replace(/^\/srv\/isos$/, join(tmp, 'isos')).replace(/^\/app\//, `${appDir}/`);
    }
    // Loopback and a free port: the image's 8080 and 69 are not ours to take on a shared host.
    Object.assign(env, { KICKSTAND_HTTP__HOST: '127.0.0.1', KICKSTAND_HTTP__PORT: '0', KICKSTAND_TFTP__HOST: '127.0.0.1', KICKSTAND_TFTP__PORT: '0' });
    const cmd = execForm(parseDockerfile(text).filter((i) => i.keyword === 'CMD').pop()!.args);
    const child = spawn(cmd[0] === 'node' ? process.execPath : cmd[0]!, cmd.slice(1), { cwd: appDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    try {
      const hc = execForm(parseDockerfile(text).find((i) => i.keyword === 'HEALTHCHECK')!.args);
      let port = '';
      for (let i = 0; i < 300 && !(port && /tftp engine: /.test(output)) && child.exitCode === null; i++) {
        await new Promise((r) => setTimeout(r, 100));
        port = /HTTP listening on [\d.]+:(\d+)/.exec(output)?.[1] ?? '';
      }
      assert.ok(port, `the CMD started HTTP; output:\n${output}`);
      // `npm ci` built native/tftpengine in the clean copy and the image's layout finds it from dist/.
      assert.match(output, /tftp engine: native/, `the native TFTP engine runs from the image; output:\n${output}`);
      env.KICKSTAND_HTTP__PORT = port;
      const ok = spawnStatus(hc, env) === 0;
      assert.ok(ok, `HEALTHCHECK passes against the built image's CMD; output:\n${output}`);
      const profiles = execFileSync(process.execPath, ['bin/kickstand.js', 'profile', 'list'], { cwd: appDir, env, encoding: 'utf8' });
      assert.match(profiles, /centos44-hvm/);
      const login = await fetch(`http://127.0.0.1:${port}/ui/login`);
      assert.equal(login.status, 200, 'dashboard views found from dist/');
      assert.equal((await fetch(`http://127.0.0.1:${port}/ui/assets/app.css`)).status, 200, 'dashboard assets found from dist/');
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

function spawnStatus(argv: string[], env: NodeJS.ProcessEnv): number | null {
  try {
    execFileSync(argv[0] === 'node' ? process.execPath : argv[0]!, argv.slice(1), { env, stdio: 'ignore', timeout: 10_000 });
    return 0;
  } catch (err) {
    return (err as { status: number | null }).status;
  }
}
