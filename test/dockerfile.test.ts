// The Dockerfile cannot be built here (no Docker engine), so check what can be checked: every
// path it copies exists, the command it runs exists, and it drops root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const text = readFileSync(join(root, 'Dockerfile'), 'utf8');

test('every path the Dockerfile copies from the build context exists', () => {
  const copies = [...text.matchAll(/^COPY (?!--from)(.+)$/gm)].map((m) => m[1]!.trim().split(/\s+/).slice(0, -1)).flat();
  assert.ok(copies.length >= 5, 'found the COPY lines');
  for (const p of copies) assert.ok(existsSync(join(root, p)), `COPY source ${p} exists`);
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
