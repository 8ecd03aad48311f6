// shellcheck (Debian package) on every rendered script of every golden case, and on the %post and
// %onerror bodies of every kickstart family; warnings and errors fail.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePackages, skipUnlessRoot } from './lib/apt.ts';
import { firmwareRefusal } from '../../server/render/context.ts';
import { artifactsFor } from '../../server/render/artifacts.ts';
import { allProfiles, caseContext, goldenCases, renderer } from '../render/fixtures.ts';
import { checkKickstart, ORDER } from '../render/ks-grammar.ts';

const skip = skipUnlessRoot('needs root (apt-get)');
let dir: string;
before(() => {
  if (skip) return;
  ensurePackages(['shellcheck']);
  dir = mkdtempSync(join(tmpdir(), 'kickstand-shellcheck-'));
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs shellcheck at warning level on text; returns its report ('' when clean). */
function shellcheck(name: string, text: string, shell?: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  const r = spawnSync('shellcheck', ['-S', 'warning', ...(shell ? ['-s', shell] : []), file], { encoding: 'utf8' });
  return r.status === 0 ? '' : r.stdout + r.stderr;
}

describe('shellcheck on rendered scripts', { skip }, () => {
  test('rescue, install and prepare of every golden case', async () => {
    const r = await renderer();
    for (const c of goldenCases()) {
      for (const kind of (['rescue', 'install', 'prepare'] as const).filter((k) => artifactsFor(c.ctx).includes(k))) {
        assert.equal(shellcheck(`${c.id}-${kind}.sh`, r.render(kind, c.ctx)), '', `${c.id} ${kind}`);
      }
    }
  });

  test('kickstart %post and %onerror bodies of every family (bash, shared values may be unused)', async () => {
    const r = await renderer();
    const { profiles, distros } = allProfiles();
    for (const name of profiles.keys()) {
      if (distros.get(profiles.get(name)!.distro)!.installer !== 'anaconda') continue;
      for (const family of ORDER) {
        // A UEFI profile cannot render for a family whose anaconda cannot install it (test/render/uefi.test.ts).
        if (firmwareRefusal(profiles.get(name)!.firmware, { installer: 'anaconda', family })) continue;
        const { sections } = checkKickstart(r.render('kickstart', caseContext(name, { family })), family);
        for (const s of sections.filter((x) => x.header !== '%packages')) {
          const body = `#!/bin/bash\n# shellcheck disable=SC2034\n${s.body.join('\n')}\n`;
          assert.equal(shellcheck(`${name}-${family}-${s.header.slice(1)}.sh`, body), '', `${name} ${family} ${s.header}`);
        }
      }
    }
  });
});
