// Reloads (SIGHUP): profiles in every subfolder, templates and the reloadable configuration switch
// together; a bad profile, template or configuration is refused with a log line and the running set
// keeps serving. First in-process through Running.reload(), then through a real SIGHUP to `kickstand serve`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../server/config/load.ts';
import { captureLogger } from '../server/log.ts';
import { startKickstand } from '../server/main.ts';

const ROOT = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const TOKEN = 'reload-test-admin-token-0123456789';

/** A data, profiles and templates folder of its own, and a config file naming them. */
function workspace(extra = ''): { dir: string; configFile: string; templates: string; profiles: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ks-reload-'));
  const templates = join(dir, 'templates');
  const profiles = join(dir, 'profiles');
  cpSync(join(ROOT, 'templates'), templates, { recursive: true });
  cpSync(join(ROOT, 'profiles'), profiles, { recursive: true });
  const configFile = join(dir, 'kickstand.yaml');
  writeFileSync(
    configFile,
    `data_dir: ${dir}/var\nisos_dir: ${dir}/isos\nprofiles_dir: ${profiles}\ntemplates_dir: ${templates}\nauth: { admin_token: ${TOKEN} }\nhttp: { host: 127.0.0.1, port: 0 }\ntftp: { enabled: false }\n${extra}`,
  );
  return { dir, configFile, templates, profiles };
}

const extraProfile = (name: string) => `kind: profile\nname: ${name}\nextends: el9-kvm\ndescription: added while running\n`;

async function profileNames(base: string): Promise<string[]> {
  const r = await fetch(`${base}/api/v1/profiles`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const body = (await r.json()) as { profiles: Array<{ name: string }> };
  return body.profiles.map((p) => p.name);
}

test('a reload switches profiles from subfolders, templates and lifecycle settings; bad ones are refused and the running set kept', async () => {
  const w = workspace('lifecycle: { stall_seconds: 600 }\n');
  const { log, lines } = captureLogger('info');
  const running = await startKickstand(loadConfig({ file: w.configFile, isRoot: false, env: {} }), log, {
    reloadConfig: () => loadConfig({ file: w.configFile, isRoot: false, env: {} }),
  });
  const base = `http://127.0.0.1:${running.httpPort}`;
  try {
    assert.equal(running.lifecycle.stallMs, 600_000);
    const entry = readFileSync(join(w.templates, 'pxe/boot.ipxe.hbs'), 'utf8');
    writeFileSync(join(w.templates, 'pxe/boot.ipxe.hbs'), entry.replace('#!ipxe\n', '#!ipxe\n# reloaded entry\n'));
    mkdirSync(join(w.profiles, 'site', 'lab'), { recursive: true });
    writeFileSync(join(w.profiles, 'site', 'lab', 'lab-guest.yaml'), extraProfile('lab-guest'));
    writeFileSync(w.configFile, readFileSync(w.configFile, 'utf8').replace('stall_seconds: 600', 'stall_seconds: 900'));
    assert.doesNotMatch(await (await fetch(`${base}/boot.ipxe`)).text(), /reloaded entry/, 'nothing changes before the reload');

    const ok = await running.reload();
    assert.deepEqual(ok, { ok: true, restartNeeded: [] });
    assert.match(await (await fetch(`${base}/boot.ipxe`)).text(), /# reloaded entry/);
    assert.ok((await profileNames(base)).includes('lab-guest'), 'a profile two folders down is loaded');
    assert.equal(running.lifecycle.stallMs, 900_000);

    // A template that does not parse: refused, nothing switched.
    writeFileSync(join(w.templates, 'pxe/boot.ipxe.hbs'), '#!ipxe\n{{#if}}\n');
    const badTemplate = await running.reload();
    assert.equal(badTemplate.ok, false);
    assert.match(badTemplate.error!, /boot\.ipxe\.hbs/);
    assert.match(await (await fetch(`${base}/boot.ipxe`)).text(), /# reloaded entry/, 'the running template still serves');
    assert.ok(lines().some((l) => l.level === 50 && /reload refused/.test(String(l.msg)) && /boot\.ipxe\.hbs/.test(String(l.msg))), 'one error line names the file');

    // A profile that does not validate.
    writeFileSync(join(w.templates, 'pxe/boot.ipxe.hbs'), entry);
    writeFileSync(join(w.profiles, 'site', 'broken.yaml'), 'kind: profile\nname: broken\nextends: no-such-parent\n');
    const badProfile = await running.reload();
    assert.equal(badProfile.ok, false);
    assert.match(badProfile.error!, /broken\.yaml/);
    assert.match(await (await fetch(`${base}/boot.ipxe`)).text(), /# reloaded entry/, 'templates are not switched either');
    rmSync(join(w.profiles, 'site', 'broken.yaml'));

    // A configuration that does not validate; then one that changes a key only a restart applies.
    const good = readFileSync(w.configFile, 'utf8');
    writeFileSync(w.configFile, good.replace('stall_seconds: 900', 'stall_seconds: -1'));
    const badConfig = await running.reload();
    assert.equal(badConfig.ok, false);
    assert.match(badConfig.error!, /lifecycle\.stall_seconds/);
    assert.equal(running.lifecycle.stallMs, 900_000);
    writeFileSync(w.configFile, good.replace('port: 0', 'port: 1').replace('stall_seconds: 900', 'stall_seconds: 60'));
    const restart = await running.reload();
    assert.equal(restart.ok, true);
    assert.deepEqual(restart.restartNeeded, ['http.port']);
    assert.equal(running.lifecycle.stallMs, 60_000, 'the reloadable key applies');
    assert.ok(lines().some((l) => l.level === 40 && /http\.port/.test(String(l.msg))), 'a warning names the key that needs a restart');
  } finally {
    await running.close();
    rmSync(w.dir, { recursive: true, force: true });
  }
});

test('SIGHUP to kickstand serve reloads a changed template and refuses a broken one with a log line', { timeout: 120_000 }, async () => {
  const w = workspace();
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'server/cli/main.ts'), 'serve', '--config', w.configFile], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const waitFor = async (re: RegExp, what: string) => {
    for (let i = 0; i < 600 && !re.test(out); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(out, re, `${what}; output:\n${out}`);
  };
  try {
    await waitFor(/kickstand ready/, 'the service starts');
    const port = /"http":(\d+)/.exec(out)![1];
    const entry = readFileSync(join(w.templates, 'pxe/boot.ipxe.hbs'), 'utf8');
    writeFileSync(join(w.templates, 'pxe/boot.ipxe.hbs'), entry.replace('#!ipxe\n', '#!ipxe\n# after sighup\n'));
    child.kill('SIGHUP');
    await waitFor(/reloaded profiles, templates and configuration/, 'the reload is logged');
    assert.match(await (await fetch(`http://127.0.0.1:${port}/boot.ipxe`)).text(), /# after sighup/);

    writeFileSync(join(w.templates, 'pxe/boot.ipxe.hbs'), '#!ipxe\n{{#each}}\n');
    child.kill('SIGHUP');
    await waitFor(/reload refused[^\n]*boot\.ipxe\.hbs/, 'the refusal is logged naming the file');
    assert.match(await (await fetch(`http://127.0.0.1:${port}/boot.ipxe`)).text(), /# after sighup/, 'the running template still serves');
    assert.equal(child.exitCode, null, 'the service keeps running');
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    rmSync(w.dir, { recursive: true, force: true });
  }
});
