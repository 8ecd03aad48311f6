// The Dockerfile cannot be built here (no Docker engine), so check what can be checked: it parses,
// every path it copies exists, it builds with the same `npm run build` as CI, runs the compiled
// build as a non-root user on the current Node LTS, and its HEALTHCHECK command really tells a
// serving kickstand from a dead one. test/system/docker-build.test.ts runs the build stage itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dockerStages, execForm, parseDockerfile } from './dockerfile.ts';

const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const text = readFileSync(join(root, 'Dockerfile'), 'utf8');

test('every path the Dockerfile copies from the build context exists', () => {
  const copies = [...text.matchAll(/^COPY (?!--from)(.+)$/gm)].map((m) => m[1]!.trim().split(/\s+/).slice(0, -1)).flat();
  assert.ok(copies.length >= 5, 'found the COPY lines');
  for (const p of copies) assert.ok(existsSync(join(root, p)), `COPY source ${p} exists`);
});

test('the Dockerfile parses into a build stage running npm run build and a runtime stage on the same Node LTS', () => {
  const stages = dockerStages(text);
  assert.equal(stages.length, 2);
  const [build, runtime] = stages as [(typeof stages)[0], (typeof stages)[0]];
  const runs = build.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
  assert.ok(runs.some((r) => /(^|&& )npm run build( |$)/.test(r)), `build stage runs npm run build: ${runs.join(' | ')}`);
  assert.ok(runs.some((r) => /npm ci/.test(r)));
  const major = (image: string) => Number(/^node:(\d+)-/.exec(image)?.[1]);
  assert.equal(major(build.from), major(runtime.from), 'both stages on one Node line');
  const engines = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
  assert.ok(engines.includes(`^${major(runtime.from)}`), `engines ${engines} names the image's Node ${major(runtime.from)}`);
  assert.ok(engines.includes('^20'), 'engines still admits Node 20');
  assert.ok(runtime.instructions.some((i) => i.keyword === 'COPY' && /--from=build \/app\/dist /.test(i.args)), 'runtime copies the compiled dist/');
  assert.ok(!runtime.instructions.some((i) => i.keyword === 'COPY' && /^server\b/.test(i.args)), 'runtime ships no TypeScript sources');
});

test('the Dockerfile runs as a non-root user with the bind capability and the CLI it names exists', () => {
  assert.match(text, /^USER kickstand$/m);
  assert.match(text, /setcap cap_net_bind_service=\+ep/);
  const cmd = /^CMD \["node", "([^"]+)", "serve"\]$/m.exec(text);
  assert.ok(cmd && existsSync(join(root, cmd[1]!)), 'CMD script exists');
  for (const pkg of ['pxelinux', 'syslinux-common', 'isolinux', 'ipxe', 'shim-signed', 'grub-efi-amd64-signed', 'xorriso']) assert.match(text, new RegExp(`\\b${pkg}\\b`));
});

test('the environment the Dockerfile sets names real configuration keys', async () => {
  const { loadConfig } = await import('../server/config/load.ts');
  const env = Object.fromEntries([...text.matchAll(/(KICKSTAND_[A-Z_]+)=(\S+)/g)].map((m) => [m[1]!, m[2]!]));
  assert.ok(Object.keys(env).length >= 4);
  const config = loadConfig({ env, cwd: root, isRoot: false, file: undefined });
  assert.equal(config.tftp.port, 69);
  assert.equal(config.data_dir, '/var/lib/kickstand');
});

test('the HEALTHCHECK command exits 0 against a serving kickstand and 1 once it is gone', async () => {
  const hc = parseDockerfile(text).find((i) => i.keyword === 'HEALTHCHECK');
  assert.ok(hc, 'has a HEALTHCHECK');
  const argv = execForm(hc.args);
  const { loadConfig } = await import('../server/config/load.ts');
  const { silentLogger } = await import('../server/log.ts');
  const { startKickstand } = await import('../server/main.ts');
  const dir = mkdtempSync(join(tmpdir(), 'ks-healthcheck-'));
  const env = { KICKSTAND_DATA_DIR: join(dir, 'var'), KICKSTAND_ISOS_DIR: join(dir, 'isos'), KICKSTAND_HTTP__HOST: '127.0.0.1', KICKSTAND_HTTP__PORT: '0', KICKSTAND_TFTP__ENABLED: 'false' };
  const running = await startKickstand(loadConfig({ cwd: root, isRoot: false, env }), silentLogger());
  const check = () =>
    new Promise<number | null>((resolve) => {
      // Async spawn: the server answering the check runs on this process's event loop.
      import('node:child_process').then(({ spawn }) => {
        const child = spawn(argv[0] === 'node' ? process.execPath : argv[0]!, argv.slice(1), { env: { ...process.env, KICKSTAND_HTTP__PORT: String(running.httpPort) }, stdio: 'ignore' });
        child.on('exit', (code) => resolve(code));
      });
    });
  try {
    assert.equal(await check(), 0);
  } finally {
    await running.close();
  }
  assert.equal(await check(), 1);
  rmSync(dir, { recursive: true, force: true });
});
