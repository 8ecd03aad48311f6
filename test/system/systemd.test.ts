// The systemd unit: `systemd-analyze verify` accepts it without a warning and it carries what the
// service needs (Type=notify, the bind capabilities, a read-only system but the data folder,
// restart on failure, reload by SIGHUP). Readiness: `kickstand serve` started with NOTIFY_SOCKET
// sends READY=1 once it serves, RELOADING=1 then READY=1 around a SIGHUP, and STOPPING=1 on SIGTERM,
// through the real systemd-notify, to a stand-in of systemd's notification socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePackages } from './lib/apt.ts';

const ROOT = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');
const UNIT = join(ROOT, 'systemd', 'kickstand.service');

/** Returns the values of a directive in the unit (every line that sets it). */
function directive(text: string, key: string): string[] {
  return [...text.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]!.trim());
}

test('systemd-analyze verify accepts the unit without a warning, and a broken copy of it is caught', () => {
  ensurePackages(['systemd']);
  const ok = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stderr.trim(), '', 'no warnings');
  // The check itself must see a mistake: an unknown Restart= value only warns, so warnings count.
  const dir = mkdtempSync(join(tmpdir(), 'ks-unit-'));
  try {
    const bad = join(dir, 'kickstand.service');
    writeFileSync(bad, readFileSync(UNIT, 'utf8').replace('Restart=on-failure', 'Restart=sometimes'));
    const r = spawnSync('systemd-analyze', ['verify', bad], { encoding: 'utf8' });
    assert.match(r.stderr, /restart specifier/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the unit runs unprivileged with the bind capabilities, a read-only system but the data folder, and restarts on failure', () => {
  const text = readFileSync(UNIT, 'utf8');
  assert.deepEqual(directive(text, 'Type'), ['notify']);
  assert.deepEqual(directive(text, 'NotifyAccess'), ['all'], 'systemd-notify runs as a child of the main process');
  assert.deepEqual(directive(text, 'User'), ['kickstand']);
  assert.ok(directive(text, 'AmbientCapabilities')[0]!.split(/\s+/).includes('CAP_NET_BIND_SERVICE'));
  assert.deepEqual(directive(text, 'ProtectSystem'), ['strict']);
  const dataDir = directive(text, 'Environment').find((e) => e.startsWith('KICKSTAND_DATA_DIR='))!.split('=')[1]!;
  assert.ok(directive(text, 'ReadWritePaths').join(' ').split(/\s+/).includes(dataDir), `ReadWritePaths names the data folder ${dataDir}`);
  assert.deepEqual(directive(text, 'Restart'), ['on-failure']);
  assert.match(directive(text, 'ExecReload')[0]!, /kill -HUP \$MAINPID/);
  assert.match(directive(text, 'ExecStart')[0]!, /^\/usr\/bin\/node \S+\/bin\/kickstand\.js serve$/, 'plain node runs the compiled build');
});

test('kickstand serve tells the notification socket READY=1 once serving, RELOADING=1/READY=1 on SIGHUP and STOPPING=1 on SIGTERM', { timeout: 120_000 }, async () => {
  ensurePackages(['systemd', 'python3']);
  const dir = mkdtempSync(join(tmpdir(), 'ks-notify-'));
  const socketPath = join(dir, 'notify.sock');
  const receiver = spawn('python3', [join(ROOT, 'test/system/fixtures/notify-socket.py'), socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  let messages = '';
  receiver.stdout.on('data', (d) => (messages += d));
  const env = {
    ...process.env,
    NOTIFY_SOCKET: socketPath,
    KICKSTAND_DATA_DIR: join(dir, 'var'),
    KICKSTAND_ISOS_DIR: join(dir, 'isos'),
    KICKSTAND_HTTP__HOST: '127.0.0.1',
    KICKSTAND_HTTP__PORT: '0',
    KICKSTAND_TFTP__HOST: '127.0.0.1',
    KICKSTAND_TFTP__PORT: '0',
  };
  let log = '';
  const until = async (cond: () => boolean, what: string) => {
    for (let i = 0; i < 600 && !cond(); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(cond(), `${what}\nmessages:\n${messages}\nlog:\n${log}`);
  };
  try {
    await until(() => messages.includes('listening'), 'the stand-in socket listens');
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/cli/main.ts', 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d) => (log += d));
    child.stderr.on('data', (d) => (log += d));
    try {
      await until(() => /READY=1/.test(messages), 'READY=1 arrives');
      const port = /HTTP listening on 127\.0\.0\.1:(\d+)/.exec(log)?.[1];
      assert.ok(port, 'HTTP was listening before READY=1');
      assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
      assert.match(messages, /STATUS=serving HTTP on \d+/);
      const readies = () => messages.split('---').filter((m) => /READY=1/.test(m)).length;
      child.kill('SIGHUP');
      await until(() => readies() === 2, 'READY=1 again after the reload');
      assert.ok(messages.indexOf('RELOADING=1') > messages.indexOf('READY=1'), 'RELOADING=1 came between the two READY=1');
      assert.match(messages, /STATUS=reloaded/);
      child.kill('SIGTERM');
      await until(() => /STOPPING=1/.test(messages), 'STOPPING=1 on SIGTERM');
      await until(() => child.exitCode !== null, 'the service exits');
      assert.equal(child.exitCode, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  } finally {
    receiver.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
