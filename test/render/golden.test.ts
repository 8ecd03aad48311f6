// Golden files: every artifact of every profile (the examples in profiles/ and the test profiles
// beside this file) rendered for one fixed system, byte for byte. After an intended template
// change, regenerate them and review the diff:
//   UPDATE_GOLDEN=1 node --import tsx --test test/render/golden.test.ts
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { artifactsFor, GLOBAL_KINDS } from '../../server/render/artifacts.ts';
import { BASE, GOLDEN, goldenCases, renderer } from './fixtures.ts';

const update = process.env.UPDATE_GOLDEN === '1';
const EXT: Record<string, string> = { kickstart: 'ks', rescue: 'sh', install: 'sh', prepare: 'sh', xen: 'cfg', xl: 'cfg', pxelinux: 'cfg', ipxe: 'ipxe', isolinux: 'cfg', 'pxelinux-default': 'cfg', 'ipxe-default': 'ipxe', 'boot-ipxe': 'ipxe', grub: 'cfg', 'grub-default': 'cfg', 'grub-entry': 'cfg' };

/** Compares text with a golden file, or writes it when UPDATE_GOLDEN=1. */
function golden(rel: string, text: string): void {
  const path = join(GOLDEN, rel);
  if (update) {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, text);
    return;
  }
  assert.ok(existsSync(path), `${rel}: no golden file; run with UPDATE_GOLDEN=1 and review it`);
  assert.equal(text, readFileSync(path, 'utf8'), `${rel} differs from its golden file; if intended, run with UPDATE_GOLDEN=1`);
}

describe('golden files', async () => {
  const r = await renderer();
  const cases = goldenCases();
  if (update) {
    for (const d of existsSync(GOLDEN) ? readdirSync(GOLDEN, { withFileTypes: true }) : []) if (d.isDirectory()) rmSync(join(GOLDEN, d.name), { recursive: true });
  }
  const expected = new Set<string>();

  for (const c of cases) {
    test(`${c.id}: every applicable artifact matches its golden file`, () => {
      for (const kind of artifactsFor(c.ctx)) {
        const rel = `${c.id}/${kind}.${EXT[kind]}`;
        expected.add(rel);
        golden(rel, r.render(kind, c.ctx));
      }
    });
  }

  test('global artifacts (default pxelinux menu, iPXE entry script) match their golden files', () => {
    for (const kind of GLOBAL_KINDS) {
      const rel = `global/${kind}.${EXT[kind]}`;
      expected.add(rel);
      golden(rel, r.renderGlobal(kind, { urls: { base: BASE } }));
    }
  });

  test('no golden file is left over from a removed case or artifact', () => {
    const found: string[] = [];
    for (const dir of readdirSync(GOLDEN, { withFileTypes: true })) {
      if (dir.isDirectory()) for (const f of readdirSync(join(GOLDEN, dir.name))) found.push(`${dir.name}/${f}`);
    }
    assert.deepEqual(found.filter((f) => !expected.has(f)), []);
  });
});
