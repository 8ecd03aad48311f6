// An ISO whose detected distro name a YAML distro takes while naming another ISO file used to be
// silently unreachable. Now it is served under a distinct name, with a warning naming both at
// start-up and on `kickstand iso list`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../server/config/load.ts';
import { captureLogger } from '../../server/log.ts';
import { startKickstand } from '../../server/main.ts';
import { fixtureBytes } from '../isos/fixtures.ts';

const ROOT = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');

test('a shadowed ISO is served under its own distinct name and named in a warning at start-up and by iso list', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-shadow-'));
  try {
    const isos = join(dir, 'isos');
    mkdirSync(isos);
    // The example YAML distro centos-4.4-i386 names CentOS-4.4-i386-binDVD.iso; this image holds the same distro under another file name.
    const iso = join(isos, 'centos-copy.iso');
    writeFileSync(iso, fixtureBytes('centos4'));
    const past = new Date(Date.now() - 3600_000);
    utimesSync(iso, past, past);
    const env = { KICKSTAND_DATA_DIR: join(dir, 'var'), KICKSTAND_ISOS_DIR: isos, KICKSTAND_HTTP__HOST: '127.0.0.1', KICKSTAND_HTTP__PORT: '0', KICKSTAND_TFTP__ENABLED: 'false', KICKSTAND_CONFIG: '' };
    const { log, lines } = captureLogger('info');
    const running = await startKickstand(loadConfig({ cwd: ROOT, isRoot: false, env }), log);
    try {
      const warning = lines().find((l) => l.level === 40 && /centos-copy\.iso/.test(String(l.msg)));
      assert.ok(warning, 'a warning names the image');
      assert.match(String(warning.msg), /ISO centos-copy\.iso holds distro centos-4\.4-i386, but the YAML distro centos-4\.4-i386 serves ISO CentOS-4\.4-i386-binDVD\.iso; centos-copy\.iso is served as centos-4\.4-i386-centos-copy/);
      const base = `http://127.0.0.1:${running.httpPort}`;
      const tree = await fetch(`${base}/trees/centos-4.4-i386-centos-copy/isolinux/`);
      assert.equal(tree.status, 200);
      assert.match(await tree.text(), /vmlinuz/);
      assert.equal((await fetch(`${base}/trees/centos-4.4-i386-centos-copy/isolinux/vmlinuz`)).status, 200);
      assert.equal((await fetch(`${base}/trees/centos-4.4-i386/isolinux/vmlinuz`)).status, 404, 'the YAML distro still means its own (absent) file');
    } finally {
      await running.close();
    }
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'server/cli/main.ts'), 'iso', 'list'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^centos-4\.4-i386-centos-copy\s+el4\s+centos-copy\.iso$/m);
    assert.match(r.stderr, /warning: ISO centos-copy\.iso holds distro centos-4\.4-i386, but the YAML distro centos-4\.4-i386 serves ISO CentOS-4\.4-i386-binDVD\.iso/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
