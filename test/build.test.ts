// The compiled build as it ships: `npm run build`'s script writes dist/ elsewhere, and bin/kickstand.js
// beside it runs the bundled CLI with plain node (no tsx): short commands, and `serve` finding its
// templates, dashboard views and assets, and migrations from the build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tftpGet } from './tftp/client.ts';

const ROOT = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');

test('the build runs with plain node: CLI commands and serve with dashboard views and assets from dist/', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-build-'));
  try {
    const b = spawnSync(process.execPath, [join(ROOT, 'scripts/build.mjs'), '--out', join(dir, 'dist'), '--no-check'], { encoding: 'utf8' });
    assert.equal(b.status, 0, b.stderr);
    // An installed layout: bin/ and dist/ side by side, the package's node_modules, no server/ sources.
    mkdirSync(join(dir, 'bin'));
    cpSync(join(ROOT, 'bin/kickstand.js'), join(dir, 'bin/kickstand.js'));
    cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
    // Every package but the build tools: the build must run without tsx, TypeScript or esbuild.
    mkdirSync(join(dir, 'node_modules'));
    for (const name of readdirSync(join(ROOT, 'node_modules'))) {
      if (!['tsx', 'typescript', 'esbuild', '@esbuild', '.bin'].includes(name)) symlinkSync(join(ROOT, 'node_modules', name), join(dir, 'node_modules', name));
    }
    assert.ok(!existsSync(join(dir, 'server')));
    // native/ beside dist/ as the Docker image has it (built addons): the TFTP engine is found from the build.
    symlinkSync(join(ROOT, 'native'), join(dir, 'native'));
    cpSync(join(ROOT, 'profiles'), join(dir, 'profiles'), { recursive: true });
    const env = {
      PATH: process.env.PATH,
      KICKSTAND_DATA_DIR: join(dir, 'var'),
      KICKSTAND_ISOS_DIR: join(dir, 'isos'),
      KICKSTAND_PROFILES_DIR: join(dir, 'profiles'),
      KICKSTAND_TEMPLATES_DIR: join(ROOT, 'templates'),
      KICKSTAND_HTTP__HOST: '127.0.0.1',
      KICKSTAND_HTTP__PORT: '0',
      KICKSTAND_TFTP__HOST: '127.0.0.1',
      KICKSTAND_TFTP__PORT: '0',
    };
    const cli = (...args: string[]) => spawnSync(process.execPath, [join(dir, 'bin/kickstand.js'), ...args], { cwd: dir, env, encoding: 'utf8' });
    const list = cli('profile', 'list');
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, /^centos44-hvm\s+centos-4\.4-i386/m);
    // No data folder yet: listing profiles does not create one (nor its profile cache).
    assert.ok(!existsSync(join(dir, 'var')));
    const add = cli('system', 'add', 'built-1', '--mac', '52:54:00:aa:bb:01', '--profile', 'el9-kvm', '--build');
    assert.equal(add.status, 0, add.stderr);
    // With a data folder the resolved set is cached under the build id, and a changed file is read again.
    assert.equal(cli('profile', 'list').status, 0);
    const cached = JSON.parse(readFileSync(join(dir, 'var/cache/profiles.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(Object.keys(cached).length, 1);
    const el9 = join(dir, 'profiles/el9-kvm.yaml');
    writeFileSync(el9, readFileSync(el9, 'utf8').replace(/^description: .*$/m, 'description: edited after caching'));
    assert.match(cli('profile', 'list').stdout, /^el9-kvm\s+rocky-9-x86_64\s+edited after caching$/m);
    writeFileSync(el9, readFileSync(el9, 'utf8').replace(/^description: .*$/m, 'description: [unterminated'));
    const bad = cli('profile', 'list');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /el9-kvm\.yaml:\d+:\d+: malformed YAML/);
    writeFileSync(el9, readFileSync(join(ROOT, 'profiles/el9-kvm.yaml'), 'utf8'));
    const ks = cli('render', 'kickstart', '--system', 'built-1');
    assert.equal(ks.status, 0, ks.stderr);
    assert.match(ks.stdout, /^%packages/m);
    assert.equal(cli('bogus').status, 2);

    // What `serve` loads before it is ready: the statically imported chunks of its command chunk.
    // express (with iconv-lite and mime-db, most of the code by size) and the pg client load later.
    const bundle = join(dir, 'dist/kickstand');
    const serveChunk = readdirSync(bundle).find((f) => /^serve-[A-Z0-9]+\.js$/.test(f))!;
    const loaded = new Set<string>();
    for (const queue = [serveChunk]; queue.length > 0; ) {
      const f = queue.pop()!;
      if (loaded.has(f)) continue;
      loaded.add(f);
      for (const m of readFileSync(join(bundle, f), 'utf8').matchAll(/^(?:import|export) [^;]*?from "\.\/([^"]+)"/gms)) queue.push(m[1]!);
    }
    const eager = [...loaded].map((f) => readFileSync(join(bundle, f), 'utf8')).join('\n');
    assert.match(eager, /^\/\/ node_modules\/pino\//m, 'the closure walk finds what serve loads');
    for (const pkg of ['express', 'iconv-lite', 'mime-db', 'pg']) assert.doesNotMatch(eager, new RegExp(`^// node_modules/${pkg}/`, 'm'), `${pkg} is loaded before serve is ready`);

    const child = spawn(process.execPath, [join(dir, 'bin/kickstand.js'), 'serve'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    try {
      for (let i = 0; i < 600 && !/kickstand ready/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
      const port = /"http":(\d+)/.exec(out)?.[1];
      assert.ok(port, `serve became ready:\n${out}`);
      assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
      const login = await fetch(`http://127.0.0.1:${port}/ui/login`);
      assert.equal(login.status, 200);
      assert.match(await login.text(), /<form/);
      assert.equal((await fetch(`http://127.0.0.1:${port}/ui/assets/app.css`)).status, 200);
      assert.match(await (await fetch(`http://127.0.0.1:${port}/boot.ipxe`)).text(), /^#!ipxe/);
      // TFTP transfers run on worker threads loaded from the build, not from TypeScript sources.
      const tftpPort = Number(/"tftp":(\d+)/.exec(out)?.[1]);
      const menu = await tftpGet({ port: tftpPort, host: '127.0.0.1', filename: 'pxelinux.cfg/01-52-54-00-aa-bb-01' });
      assert.equal(menu.error, null, out);
      assert.match(menu.data.toString(), /ks=|inst\.ks=/);
      // With native/tftpengine built (npm install builds it), auto runs it from the build too.
      if (existsSync(join(ROOT, 'native/tftpengine/build/Release/tftpengine.node'))) assert.match(out, /tftp engine: native/, out);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    }
    assert.equal(child.exitCode, 0, out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
