// `kickstand system import FILE` as an operator runs it: a CSV and a YAML fleet go in whole (armed
// where asked), and a file with any bad row changes nothing and names each bad line and field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { csvRows, parseCsv } from '../../server/cli/system-import.ts';

const ROOT = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');

function cli(dir: string, ...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'server/cli/main.ts'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, KICKSTAND_DATA_DIR: join(dir, 'var'), KICKSTAND_ISOS_DIR: join(dir, 'isos'), KICKSTAND_CONFIG: '' },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('CSV parsing keeps quoted commas, quotes and newlines, and the line each record starts on', () => {
  const recs = parseCsv('name,hostname\n"a,b","say ""hi"""\r\n"multi\nline",x\n\nlast,y');
  assert.deepEqual(recs, [
    { line: 1, fields: ['name', 'hostname'] },
    { line: 2, fields: ['a,b', 'say "hi"'] },
    { line: 3, fields: ['multi\nline', 'x'] },
    { line: 6, fields: ['last', 'y'] },
  ]);
  assert.deepEqual(csvRows('name,mac,profile\nweb1,52:54:00:00:00:01;52:54:00:00:00:02,el9-kvm\n')[0], { line: 2, body: { name: 'web1', macs: ['52:54:00:00:00:01', '52:54:00:00:00:02'], profile: 'el9-kvm' } });
});

test('system import: a CSV and a YAML file go in whole; a bad file changes nothing and names line and field', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-import-'));
  try {
    const csv = join(dir, 'fleet.csv');
    writeFileSync(csv, ['name,mac,profile,ip,hostname,overrides,build', ...Array.from({ length: 40 }, (_, i) => `web${i},52:54:00:aa:00:${i.toString(16).padStart(2, '0')},el9-kvm,${i === 3 ? '10.1.0.3' : ''},web${i}.lab,${i === 5 ? '"{""selinux"":""permissive""}"' : ''},${i < 2 ? 'yes' : ''}`)].join('\n'));
    const r = cli(dir, 'system', 'import', csv);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /imported 40 systems from .*fleet\.csv \(2 armed\)/);
    const list = cli(dir, 'system', 'list', '--json');
    const systems = JSON.parse(list.out) as Array<{ name: string; state: string; ip: string | null; overrides: Record<string, unknown> }>;
    assert.equal(systems.length, 40);
    assert.equal(systems.find((s) => s.name === 'web0')!.state, 'build');
    assert.equal(systems.find((s) => s.name === 'web3')!.ip, '10.1.0.3');
    assert.deepEqual(systems.find((s) => s.name === 'web5')!.overrides, { selinux: 'permissive' });

    const yaml = join(dir, 'db.yaml');
    writeFileSync(yaml, 'systems:\n  - name: db1\n    macs: ["52:54:00:bb:00:01"]\n    profile: centos44-hvm\n    hostname: db1\n  - name: db2\n    macs: ["52:54:00:bb:00:02"]\n    profile: el9-kvm\n    build: true\n');
    const y = cli(dir, 'system', 'import', yaml);
    assert.equal(y.code, 0, y.err);
    assert.match(y.out, /imported 2 systems/);

    // Every kind of problem at once: nothing of the file is written, every line is named.
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      [
        '- name: ok1',
        '  macs: ["52:54:00:cc:00:01"]',
        '  profile: el9-kvm',
        '- name: bad-mac',
        '  macs: ["zz:zz"]',
        '  profile: el9-kvm',
        '- name: no-profile',
        '  macs: ["52:54:00:cc:00:03"]',
        '  profile: nope',
        '- name: web7',
        '  macs: ["52:54:00:cc:00:04"]',
        '  profile: el9-kvm',
        '- name: dup-mac',
        '  macs: ["52:54:00:cc:00:01"]',
        '  profile: el9-kvm',
        '- name: taken-mac',
        '  macs: ["52:54:00:aa:00:00"]',
        '  profile: el9-kvm',
        '',
      ].join('\n'),
    );
    const b = cli(dir, 'system', 'import', bad);
    assert.notEqual(b.code, 0);
    assert.match(b.err, /nothing imported, 5 problems/);
    assert.match(b.err, /line 4: macs\[0\]: invalid MAC address "zz:zz"/);
    assert.match(b.err, /line 7: profile: no profile named "nope"/);
    assert.match(b.err, /line 10: name: a system named "web7" exists/);
    assert.match(b.err, /line 13: macs: "52:54:00:cc:00:01" is also on line 1/);
    assert.match(b.err, /line 16: macs: 52:54:00:aa:00:00 belongs to system "web0"/);
    assert.equal((JSON.parse(cli(dir, 'system', 'list', '--json').out) as unknown[]).length, 42, 'nothing of the bad file was written');

    const badCsv = join(dir, 'bad.csv');
    writeFileSync(badCsv, 'name,mac,profile\nfine,52:54:00:dd:00:01,el9-kvm\nshort,52:54:00:dd:00:02\n');
    const c = cli(dir, 'system', 'import', badCsv);
    assert.match(c.err, /line 3: expected 3 fields, found 2/);
    const unknown = join(dir, 'cols.csv');
    writeFileSync(unknown, 'name,colour\nx,red\n');
    assert.match(cli(dir, 'system', 'import', unknown).err, /line 1: column "colour": unknown/);
    assert.match(cli(dir, 'system', 'import', join(dir, 'fleet.txt')).err, /expected a \.csv, \.yaml or \.yml file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
