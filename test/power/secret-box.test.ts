// Sealed power secrets: the key file is made 0600 on first use, a sealed value opens only with
// its key and unaltered, and the sealed text never contains the secret.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PowerError } from '../../server/errors.ts';
import { SecretBox } from '../../server/power/secret-box.ts';

test('a secret seals under a 0600 key made on first use and opens again, also from a second box on the same key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-box-'));
  const key = join(dir, 'sub', 'power-secrets.key');
  const sealed = new SecretBox(key).seal('hunter2 and more');
  assert.equal(statSync(key).mode & 0o777, 0o600);
  assert.equal(readFileSync(key).length, 32);
  assert.ok(!sealed.includes('hunter2'));
  assert.notEqual(new SecretBox(key).seal('hunter2 and more'), sealed, 'a fresh IV every time');
  assert.equal(new SecretBox(key).open(sealed), 'hunter2 and more');
  chmodSync(key, 0o644);
  new SecretBox(key).seal('x');
  assert.equal(statSync(key).mode & 0o777, 0o600, 'a key readable by others is tightened');
});

test('a value sealed under another key, altered, or in no known format does not open', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-box-'));
  const sealed = new SecretBox(join(dir, 'a')).seal('s3cret');
  assert.throws(() => new SecretBox(join(dir, 'b')).open(sealed), (e: unknown) => e instanceof PowerError && /cannot be opened with .*\/b \(was the key replaced\?\)/.test(e.message));
  const parts = sealed.split(':');
  parts[3] = Buffer.from('X' + Buffer.from(parts[3]!, 'base64url').toString('latin1').slice(1), 'latin1').toString('base64url');
  assert.throws(() => new SecretBox(join(dir, 'a')).open(parts.join(':')), PowerError);
  assert.throws(() => new SecretBox(join(dir, 'a')).open('plain-text'), /not in a known format/);
  writeFileSync(join(dir, 'short'), 'abc');
  assert.throws(() => new SecretBox(join(dir, 'short')).seal('x'), /expected 32 bytes, found 3/);
});
