import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../server/config/load.ts';
import { ConfigError } from '../../server/errors.ts';

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'ks-config-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('with no file the embedded defaults apply: ./var, HTTP 8080, TFTP 69 as root else 6969, DHCP off', () => {
  withDir((dir) => {
    const c = loadConfig({ env: {}, cwd: dir, isRoot: false });
    assert.equal(c.data_dir, join(dir, 'var'));
    assert.equal(c.profiles_dir, join(dir, 'profiles'));
    assert.equal(c.isos_dir, join(dir, 'isos'));
    assert.equal(c.http.port, 8080);
    assert.equal(c.tftp.port, 6969);
    assert.equal(c.dhcp.mode, 'off');
    assert.equal(loadConfig({ env: {}, cwd: dir, isRoot: true }).tftp.port, 69);
  });
});

test('the result is frozen', () => {
  withDir((dir) => {
    const c = loadConfig({ env: {}, cwd: dir, isRoot: false });
    assert.throws(() => {
      (c.http as { port: number }).port = 1;
    }, TypeError);
  });
});

test('kickstand.yaml values apply, relative folders resolve against the file', () => {
  withDir((dir) => {
    writeFileSync(join(dir, 'kickstand.yaml'), 'http:\n  port: 9090\ndata_dir: state\n');
    const c = loadConfig({ env: {}, cwd: dir, isRoot: false });
    assert.equal(c.http.port, 9090);
    assert.equal(c.data_dir, join(dir, 'state'));
  });
});

test('KICKSTAND_* variables override the file (double underscore for nesting)', () => {
  withDir((dir) => {
    writeFileSync(join(dir, 'kickstand.yaml'), 'http:\n  port: 9090\n');
    const c = loadConfig({ env: { KICKSTAND_HTTP__PORT: '9191', KICKSTAND_LOG_LEVEL: 'debug', KICKSTAND_TFTP__ENABLED: 'false' }, cwd: dir, isRoot: false });
    assert.equal(c.http.port, 9191);
    assert.equal(c.log_level, 'debug');
    assert.equal(c.tftp.enabled, false);
  });
});

test('an unknown key names the file and the key', () => {
  withDir((dir) => {
    writeFileSync(join(dir, 'kickstand.yaml'), 'http:\n  prot: 9090\n');
    assert.throws(
      () => loadConfig({ env: {}, cwd: dir, isRoot: false }),
      (e: unknown) => e instanceof ConfigError && e.message === `${join(dir, 'kickstand.yaml')}: http.prot: unknown key "prot"` && e.field === 'http.prot',
    );
  });
});

test('a wrong type from the environment names the variable', () => {
  withDir((dir) => {
    assert.throws(() => loadConfig({ env: { KICKSTAND_HTTP__PORT: 'eighty' }, cwd: dir, isRoot: false }), /environment KICKSTAND_HTTP__PORT: http\.port: Expected number/);
  });
});

test('malformed YAML and a missing explicit file are clear errors', () => {
  withDir((dir) => {
    writeFileSync(join(dir, 'bad.yaml'), 'http: [\n');
    assert.throws(() => loadConfig({ file: 'bad.yaml', env: {}, cwd: dir }), /bad\.yaml: malformed YAML/);
    assert.throws(() => loadConfig({ file: 'missing.yaml', env: {}, cwd: dir }), /missing\.yaml does not exist/);
    writeFileSync(join(dir, 'list.yaml'), '- a\n');
    assert.throws(() => loadConfig({ file: 'list.yaml', env: {}, cwd: dir }), /expected a map/);
  });
});

test('DHCP switched on needs server_ip, and full mode needs a subnet', () => {
  withDir((dir) => {
    assert.throws(() => loadConfig({ env: { KICKSTAND_DHCP__MODE: 'proxy' }, cwd: dir }), /dhcp\.server_ip: required/);
    assert.throws(() => loadConfig({ env: { KICKSTAND_DHCP__MODE: 'full', KICKSTAND_DHCP__SERVER_IP: '10.9.0.1' }, cwd: dir }), /dhcp\.subnet: required/);
    writeFileSync(
      join(dir, 'kickstand.yaml'),
      'dhcp:\n  mode: full\n  interface: eth1\n  server_ip: 10.9.0.1\n  subnet: { network: 10.9.0.0, mask: 255.255.255.0, pool_start: 10.9.0.100, pool_end: 10.9.0.200 }\n',
    );
    assert.equal(loadConfig({ env: {}, cwd: dir }).dhcp.subnet!.lease_seconds, 3600);
  });
});

test('tooling variables (KICKSTAND_E2E_*, _TEST_, _BENCH_) are not configuration; other unknown ones are refused', () => {
  withDir((dir) => {
    const c = loadConfig({ env: { KICKSTAND_E2E_SERVERS: 'kickstand', KICKSTAND_BENCH_ONLY: 'tftp', KICKSTAND_TEST_X: '1' }, cwd: dir, isRoot: false });
    assert.equal(c.http.port, 8080);
    assert.throws(() => loadConfig({ env: { KICKSTAND_HTTP_PORT: '9090' }, cwd: dir, isRoot: false }), /environment KICKSTAND_HTTP_PORT: http_port: unknown key "http_port"/);
  });
});

test('security, caps and metrics: safe defaults; bad values name the file and key', () => {
  withDir((dir) => {
    const c = loadConfig({ env: {}, cwd: dir, isRoot: false });
    assert.deepEqual(c.security, { match_by_mac: 'address', bind_runs: true, trusted_hosts: [] });
    assert.equal(c.lifecycle.max_events_per_run, 500);
    assert.equal(c.lifecycle.discovered_max, 1000);
    assert.deepEqual(c.metrics, {});
    const file = join(dir, 'kickstand.yaml');
    const bad = (yaml: string, key: string, message: RegExp) => {
      writeFileSync(file, yaml);
      assert.throws(
        () => loadConfig({ env: {}, cwd: dir, isRoot: false }),
        (e: unknown) => e instanceof ConfigError && e.field === key && e.message.startsWith(`${file}: ${key}: `) && message.test(e.message),
        yaml,
      );
    };
    bad('security:\n  match_by_mac: source\n', 'security.match_by_mac', /address/);
    bad('security:\n  trusted_hosts: [10.0.0.0/24, 10.1.0.0/33]\n', 'security.trusted_hosts[1]', /IP address or CIDR/);
    bad('security:\n  trusted_hosts: [xen-host.example]\n', 'security.trusted_hosts[0]', /IP address or CIDR/);
    bad('lifecycle:\n  max_log_bytes: 2097152\n  max_log_bytes_per_system: 1048576\n', 'lifecycle.max_log_bytes_per_system', /at least lifecycle.max_log_bytes/);
    bad('metrics:\n  host: 127.0.0.1\n', 'metrics.port', /required when metrics.host is set/);
    bad('metrics:\n  token: short\n', 'metrics.token', /16/);
    writeFileSync(file, 'security:\n  trusted_hosts: [10.0.0.0/24, "fd00::/8", 192.0.2.1]\n');
    assert.deepEqual(loadConfig({ env: {}, cwd: dir, isRoot: false }).security.trusted_hosts, ['10.0.0.0/24', 'fd00::/8', '192.0.2.1']);
  });
});
