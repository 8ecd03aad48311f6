import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, symlink, writeFile, realpath } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkRequestPath, openUnder, resolveUnder } from '../../server/boot/file-roots.ts';

describe('file roots', () => {
  let base: string;
  let root: string;
  let second: string;
  before(async () => {
    base = await realpath(await mkdtemp(join(tmpdir(), 'ks-roots-')));
    root = join(base, 'root');
    second = join(base, 'second');
    await mkdir(join(root, 'pxelinux.cfg'), { recursive: true });
    await mkdir(second);
    await writeFile(join(root, 'pxelinux.0'), 'loader');
    await writeFile(join(root, 'pxelinux.cfg', 'default'), 'menu');
    await writeFile(join(base, 'secret'), 'outside');
    await writeFile(join(second, 'only-here'), 'second root');
    await writeFile(join(second, 'pxelinux.0'), 'shadowed');
    await symlink(join(base, 'secret'), join(root, 'link-out'));
    await symlink('../secret', join(root, 'relative-link-out'));
    await symlink(base, join(root, 'dir-out'));
    await symlink('pxelinux.0', join(root, 'link-in'));
    await symlink('missing', join(root, 'dangling'));
  });
  after(() => rm(base, { recursive: true, force: true }));

  test('a plain file and a file in a subdirectory resolve to their real paths', async () => {
    assert.equal(await resolveUnder(root, 'pxelinux.0'), join(root, 'pxelinux.0'));
    assert.equal(await resolveUnder(root, 'pxelinux.cfg/default'), join(root, 'pxelinux.cfg', 'default'));
  });

  test('backslashes are separators, as DOS-minded PXE clients send them', async () => {
    assert.equal(await resolveUnder(root, 'pxelinux.cfg\\default'), join(root, 'pxelinux.cfg', 'default'));
  });

  test('empty and "." segments are harmless', async () => {
    assert.equal(await resolveUnder(root, './pxelinux.cfg//./default'), join(root, 'pxelinux.cfg', 'default'));
  });

  test('".." segments are refused even when they would stay inside', async () => {
    assert.equal(await resolveUnder(root, '../secret'), null);
    assert.equal(await resolveUnder(root, 'pxelinux.cfg/../pxelinux.0'), null);
    assert.equal(await resolveUnder(root, '..\\secret'), null);
  });

  test('absolute paths and drive letters are refused', async () => {
    assert.equal(await resolveUnder(root, join(base, 'secret')), null);
    assert.equal(await resolveUnder(root, '\\secret'), null);
    assert.equal(await resolveUnder(root, 'C:\\secret'), null);
  });

  test('symlinks pointing outside the root are refused; inside ones are followed', async () => {
    assert.equal(await resolveUnder(root, 'link-out'), null);
    assert.equal(await resolveUnder(root, 'relative-link-out'), null);
    assert.equal(await resolveUnder(root, 'dir-out/secret'), null);
    assert.equal(await resolveUnder(root, 'link-in'), join(root, 'pxelinux.0'));
  });

  test('NUL bytes and over-long names are refused, with the reason', async () => {
    assert.equal(await resolveUnder(root, 'pxelinux.0\0.txt'), null);
    assert.deepEqual(checkRequestPath('a\0b'), { ok: false, reason: 'contains a NUL byte' });
    assert.deepEqual(checkRequestPath('x'.repeat(256)), { ok: false, reason: 'has a segment longer than 255 bytes' });
    assert.deepEqual(checkRequestPath('a/'.repeat(600)), { ok: false, reason: 'longer than 1024 bytes' });
    assert.equal(await resolveUnder(root, `${'d/'.repeat(511)}x`), null);
  });

  test('missing files, dangling links and directories give null', async () => {
    assert.equal(await resolveUnder(root, 'nope'), null);
    assert.equal(await resolveUnder(root, 'dangling'), null);
    assert.equal(await resolveUnder(root, 'pxelinux.cfg'), null);
    assert.equal(await resolveUnder(root, ''), null);
    assert.equal(await resolveUnder(join(base, 'no-such-root'), 'pxelinux.0'), null);
  });

  test('openUnder reads from the first root that has the file', async () => {
    const a = await openUnder([root, second], 'pxelinux.0');
    const b = await openUnder([root, second], 'only-here');
    try {
      assert.equal((await a!.read(0, 100)).toString(), 'loader');
      assert.equal((await b!.read(0, 100)).toString(), 'second root');
      assert.equal(b!.size, 11);
    } finally {
      await a?.close?.();
      await b?.close?.();
    }
    assert.equal(await openUnder([root, second], 'link-out'), null);
    assert.equal(await openUnder([root, second], '../secret'), null);
  });
});
