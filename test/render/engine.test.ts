import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRenderer } from '../../server/render/renderer.ts';
import { NotFoundError, TemplateError } from '../../server/errors.ts';
import { captureLogger, silentLogger } from '../../server/log.ts';
import { ARTIFACT_KINDS, artifactsFor } from '../../server/render/artifacts.ts';
import { TEMPLATES, allProfiles, contextFor, renderer } from './fixtures.ts';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'kickstand-templates-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Returns a copy of the real templates folder with one file written over or added. */
function withFile(rel: string, text: string, append = false): string {
  const d = mkdtempSync(join(dir, 't-'));
  cpSync(TEMPLATES, d, { recursive: true });
  if (append) appendFileSync(join(d, rel), text);
  else writeFileSync(join(d, rel), text);
  return d;
}

/** Asserts start-up fails with TemplateError whose message matches re. */
async function refuses(templatesDir: string, re: RegExp): Promise<void> {
  await assert.rejects(loadRenderer({ templatesDir, log: silentLogger() }), (e: unknown) => {
    assert.ok(e instanceof TemplateError, `expected TemplateError, got ${String(e)}`);
    assert.match(e.message, re);
    return true;
  });
}

describe('start-up refuses unsafe or broken templates, naming the file and line', () => {
  test('a bare {{hostname}} in a shell template', async () => {
    await refuses(withFile('rescue.sh.hbs', '\n# ok\necho {{system.hostname}}\n', true), /rescue\.sh\.hbs:\d+:\d+: \{\{system\.hostname\}\} outputs a value without a sh quoting helper .*use \{\{sq system\.hostname\}\}/);
  });
  test('a bare value in a shell partial', async () => {
    await refuses(withFile('partials/evil.sh.hbs', 'x={{urls.base}}\n'), /partials\/evil\.sh\.hbs:1:3: \{\{urls\.base\}\}/);
  });
  test('the shell helper on a kickstart command line, and a bare value there', async () => {
    await refuses(withFile('kickstart/x1.ks.hbs', 'install\nnetwork --hostname={{sq system.hostname}}\n'), /kickstart\/x1\.ks\.hbs:2:20: \{\{sq …\}\} outputs a value without a ks quoting helper/);
    await refuses(withFile('kickstart/x2.ks.hbs', 'install\nnetwork --hostname={{system.hostname}}\n'), /x2\.ks\.hbs:2:20/);
  });
  test('the kickstart helper inside %post, where values are shell', async () => {
    await refuses(withFile('kickstart/x3.ks.hbs', 'install\n%post\nhostname {{ks system.hostname}}\n%end\n'), /x3\.ks\.hbs:3:10: .*this sh section .*\(sq\)/);
  });
  test('a shell partial on a kickstart command line', async () => {
    await refuses(withFile('kickstart/x4.ks.hbs', 'install\n{{> report}}\n'), /x4\.ks\.hbs:2:1: partial "report" is sh but this part of the template is ks/);
  });
  test('lookup, hash arguments, an unknown block helper, decorators and prototype paths', async () => {
    await refuses(withFile('pxe/x.cfg.hbs', '{{karg (lookup system "name")}}\n'), /\(lookup …\) is not one of the value helpers/);
    await refuses(withFile('pxe/x.cfg.hbs', '{{karg system.name foo=1}}\n'), /hash arguments/);
    await refuses(withFile('pxe/x.cfg.hbs', '{{#each2 disks}}x{{/each2}}\n'), /\{\{#each2\}\} is not one of the block helpers/);
    await refuses(withFile('pxe/x.cfg.hbs', '{{karg system.constructor.name}}\n'), /reaches into prototypes/);
    await refuses(withFile('pxe/x.cfg.hbs', '{{#> report}}x{{/report}}\n'), /PartialBlockStatement is not allowed/);
  });
  test('a syntax error', async () => {
    await refuses(withFile('xen/xm.cfg.hbs', 'memory = {{num xen.memory}\n'), /xen\/xm\.cfg\.hbs: Parse error on line 1/);
  });
  test('a missing partial, a missing required template, and a file of unknown type', async () => {
    await refuses(withFile('install.sh.hbs', '{{> nope}}\n'), /install\.sh\.hbs:1:1: no partial named "nope"/);
    const d = withFile('pxe/ipxe.hbs', '');
    rmSync(join(d, 'pxe/ipxe.hbs'));
    await refuses(d, /pxe\/ipxe\.hbs: missing/);
    await refuses(withFile('notes.txt.hbs', 'x\n'), /notes\.txt\.hbs: unknown template type/);
  });
});

describe('rendering', () => {
  test('start-up logs how many templates and partials it compiled', async () => {
    const { log, lines } = captureLogger();
    const r = await loadRenderer({ templatesDir: TEMPLATES, log });
    assert.ok(r.templates.includes('rescue.sh'));
    assert.deepEqual(r.kickstarts, ['el10', 'el4', 'el5', 'el6', 'el7', 'el8', 'el9', 'fedora']);
    assert.ok(lines().some((l) => l.msg === 'templates compiled' && typeof l.templates === 'number'));
  });

  test('templates compiled on the worker thread render the same bytes as templates compiled on first use', async () => {
    const { log, lines } = captureLogger();
    const warm = await loadRenderer({ templatesDir: TEMPLATES, log, warmDelayMs: 0 });
    await warm.whenWarm();
    assert.deepEqual(lines().filter((l) => (l.level as number) >= 40), [], 'the worker compiled every template, with no warning or error');
    const cold = await loadRenderer({ templatesDir: TEMPLATES, log: silentLogger(), warmDelayMs: 3_600_000 });
    let compared = 0;
    for (const name of allProfiles().profiles.keys()) {
      const ctx = contextFor(name);
      for (const kind of artifactsFor(ctx)) {
        assert.equal(warm.render(kind, ctx), cold.render(kind, ctx), `${name} ${kind}`);
        compared++;
      }
    }
    assert.equal(warm.renderGlobal('pxelinux-default', { urls: { base: 'http://10.0.0.1:8080' } }), cold.renderGlobal('pxelinux-default', { urls: { base: 'http://10.0.0.1:8080' } }));
    assert.ok(compared > 20, `${compared} renders compared`);
  });

  test('a missing variable is an error (strict mode), in a quoting helper and in a block helper', async () => {
    const r1 = await loadRenderer({ templatesDir: withFile('pxe/pxelinux.cfg.hbs', 'DEFAULT {{karg system.nickname}}\n'), log: silentLogger() });
    assert.throws(() => r1.render('pxelinux', contextFor('centos44-hvm')), (e: unknown) => e instanceof TemplateError && /pxelinux\.cfg\.hbs: \{\{karg\}\}.*a missing value/.test(e.message));
    const r2 = await loadRenderer({ templatesDir: withFile('pxe/pxelinux.cfg.hbs', '{{#if system.nickname}}x{{/if}}\n'), log: silentLogger() });
    assert.throws(() => r2.render('pxelinux', contextFor('centos44-hvm')), /\{\{#if\}\}.*its argument is missing/);
  });

  test('every template renders for every profile: each applicable kind renders, the others are refused with NotFoundError', async () => {
    const r = await renderer();
    const { profiles } = allProfiles();
    for (const name of profiles.keys()) {
      for (const armed of [true, false]) {
        const ctx = contextFor(name, { armed });
        const kinds = artifactsFor(ctx);
        for (const kind of ARTIFACT_KINDS) {
          if (kinds.includes(kind)) assert.ok(r.render(kind, ctx).length > 50, `${name} ${kind}`);
          else assert.throws(() => r.render(kind, ctx), NotFoundError, `${name} ${kind}`);
        }
      }
    }
    for (const family of ['el4', 'el5', 'el6', 'el7', 'el8', 'el9', 'el10', 'fedora'] as const) {
      assert.match(r.render('kickstart', contextFor('el9-kvm', { family })), /%packages/);
    }
  });

  test('the example profiles get the kinds they should', () => {
    assert.deepEqual(artifactsFor(contextFor('centos44-hvm')), ['kickstart', 'rescue', 'prepare', 'xen', 'xl', 'libvirt', 'pxelinux', 'ipxe', 'isolinux', 'grub']);
    assert.deepEqual(artifactsFor(contextFor('el9-kvm')), ['kickstart', 'pxelinux', 'ipxe', 'isolinux', 'grub']);
    assert.deepEqual(artifactsFor(contextFor('script-chs')), ['rescue', 'install', 'prepare', 'xen', 'xl', 'libvirt', 'pxelinux', 'ipxe', 'isolinux', 'grub']);
    assert.deepEqual(artifactsFor(contextFor('fedora-kvm')), ['kickstart', 'pxelinux', 'ipxe', 'isolinux', 'grub'], 'LVM: no rescue, install or prepare script');
  });

  test('a pxelinux APPEND line longer than pxelinux keeps is refused', async () => {
    const r = await renderer();
    const long = contextFor('centos44-hvm');
    const huge = { ...long, boot: { ...long.boot, args: [...long.boot.args, `x=${'a'.repeat(1100)}`] } };
    assert.throws(() => r.render('pxelinux', huge), /line \d+ is \d+ bytes; pxelinux cuts lines at 1022/);
  });
});
