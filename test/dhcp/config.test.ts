// dhcp.interface in the configuration: a name or a list of names, required when DHCP is on, and a
// bad value names the key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../server/config/load.ts';

const base = { KICKSTAND_DHCP__MODE: 'proxy', KICKSTAND_DHCP__SERVER_IP: '10.9.0.1' };
const load = (env: Record<string, string>) => loadConfig({ env: { ...base, ...env }, cwd: tmpdir() });

test('dhcp.interface takes one name (a string), as before', () => {
  assert.equal(load({ KICKSTAND_DHCP__INTERFACE: 'eth1' }).dhcp.interface, 'eth1');
});

test('dhcp.interface takes a list of names, from the environment or a file', () => {
  assert.deepEqual(load({ KICKSTAND_DHCP__INTERFACE: '["eth1","br0"]' }).dhcp.interface, ['eth1', 'br0']);
  const dir = mkdtempSync(join(tmpdir(), 'ks-cfg-'));
  try {
    writeFileSync(join(dir, 'kickstand.yaml'), 'dhcp:\n  mode: full\n  server_ip: 10.9.0.1\n  interface: [eth1, eth2]\n  subnet: { network: 10.9.0.0, mask: 255.255.255.0, pool_start: 10.9.0.10, pool_end: 10.9.0.20 }\n');
    assert.deepEqual(loadConfig({ env: {}, cwd: dir }).dhcp.interface, ['eth1', 'eth2']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('dhcp.interface is required when DHCP is on, and not when it is off', () => {
  assert.throws(() => load({}), (err: Error & { field?: string }) => {
    assert.equal(err.field, 'dhcp.interface');
    assert.match(err.message, /^configuration: dhcp\.interface: required when dhcp\.mode is proxy/);
    return true;
  });
  assert.equal(loadConfig({ env: {}, cwd: tmpdir() }).dhcp.interface, undefined);
});

test('a bad interface name or an empty list is refused naming dhcp.interface and the variable', () => {
  for (const bad of ['eth0:1', 'a b', 'x'.repeat(16), '[]', '../eth0', '', '["eth1","a:b"]']) {
    assert.throws(() => load({ KICKSTAND_DHCP__INTERFACE: bad }), (err: Error & { field?: string }) => {
      assert.match(err.field ?? '', /^dhcp\.interface/, `${bad}: ${err.message}`);
      assert.match(err.message, /^environment KICKSTAND_DHCP__INTERFACE: dhcp\.interface/, bad);
      return true;
    });
  }
});
