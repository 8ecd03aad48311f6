import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyOverrides, loadProfiles, loadProfilesCached } from '../../server/profiles/load.ts';
import { ProfileError } from '../../server/errors.ts';
import { PROFILES_DIR } from '../http/harness.ts';

const DISTRO = 'kind: distro\nname: d\nfamily: el5\narch: i386\nkernel: k\ninitrd: i\n';
const BASE = `kind: profile
name: base
abstract: true
distro: d
packages: [kernel, kernel-devel]
xen: { memory: 256, vcpus: 1, bridge: xenbr0, vnc: { listen: 127.0.0.1 } }
disks:
  hda: { size_mib: 4096, partitions: [{ role: root, fstype: ext3 }] }
  hdb: { size_mib: 512, partitions: [{ role: swap }] }
`;

function withProfiles(files: Record<string, string>, fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'ks-profiles-'));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('profile inheritance', () => {
  test('maps merge, lists replace, scalars replace, null unsets', () => {
    withProfiles(
      {
        'd.yaml': DISTRO,
        'base.yaml': BASE,
        'child.yaml': `kind: profile\nname: child\nextends: base\npackages: [kernel-smp]\nxen: { vcpus: 2, vnc: null }\ndisks:\n  hda: { size_mib: 8192 }\n`,
      },
      (dir) => {
        const p = loadProfiles(dir).profiles.get('child')!;
        assert.deepEqual(p.packages, ['kernel-smp'], 'lists replace');
        assert.equal(p.xen!.memory, 256, 'maps merge: parent key kept');
        assert.equal(p.xen!.vcpus, 2, 'maps merge: child key wins');
        assert.deepEqual(p.xen!.vnc, { enabled: true, listen: '127.0.0.1' }, 'null unsets: the default applies');
        assert.equal(p.disks.hda!.size_mib, 8192, 'one disk resized');
        assert.deepEqual(p.disks.hda!.partitions, [{ role: 'root', fstype: 'ext3' }], 'its partitions inherited');
        assert.equal(p.disks.hdb!.size_mib, 512);
        assert.deepEqual(p.parents, ['base']);
      },
    );
  });

  test('abstract profiles are not assignable; a three-level chain resolves in order', () => {
    withProfiles(
      {
        'd.yaml': DISTRO,
        'base.yaml': BASE,
        'mid.yaml': 'kind: profile\nname: mid\nextends: base\nabstract: true\ntimezone: Europe/Berlin\n',
        'leaf.yaml': 'kind: profile\nname: leaf\nextends: mid\nkeyboard: de\n',
      },
      (dir) => {
        const set = loadProfiles(dir);
        assert.deepEqual([...set.profiles.keys()], ['leaf']);
        const leaf = set.profiles.get('leaf')!;
        assert.equal(leaf.timezone, 'Europe/Berlin');
        assert.equal(leaf.keyboard, 'de');
        assert.deepEqual(leaf.parents, ['mid', 'base']);
      },
    );
  });

  test('a profile that extends itself, and a longer cycle, are errors naming the cycle', () => {
    withProfiles({ 'd.yaml': DISTRO, 'a.yaml': 'kind: profile\nname: a\nextends: a\n' }, (dir) => {
      assert.throws(() => loadProfiles(dir), /a\.yaml: extends: cycle a → a/);
    });
    withProfiles({ 'd.yaml': DISTRO, 'a.yaml': 'kind: profile\nname: a\nextends: b\n', 'b.yaml': 'kind: profile\nname: b\nextends: a\n' }, (dir) => {
      assert.throws(() => loadProfiles(dir), /extends: cycle a → b → a/);
    });
  });

  test('a missing parent names the file that extends it', () => {
    withProfiles({ 'd.yaml': DISTRO, 'a.yaml': 'kind: profile\nname: a\nextends: ghost\n' }, (dir) => {
      assert.throws(() => loadProfiles(dir), /a\.yaml: extends: no profile named "ghost"/);
    });
  });
});

describe('profile validation messages', () => {
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['malformed YAML with line and column', { 'x.yaml': 'kind: profile\nname: [x\n' }, /x\.yaml:\d+:\d+: malformed YAML/],
    ['an unknown key', { 'd.yaml': DISTRO, 'base.yaml': BASE, 'x.yaml': 'kind: profile\nname: x\nextends: base\ncolour: red\n' }, /x\.yaml: colour: unknown key "colour"/],
    ['an unknown nested key', { 'd.yaml': DISTRO, 'base.yaml': BASE, 'x.yaml': 'kind: profile\nname: x\nextends: base\nxen: { vcpu: 2 }\n' }, /x\.yaml: xen\.vcpu: unknown key "vcpu"/],
    ['a wrong type', { 'd.yaml': DISTRO, 'base.yaml': BASE, 'x.yaml': 'kind: profile\nname: x\nextends: base\ndisks: { hda: { size_mib: big } }\n' }, /x\.yaml: disks\.hda\.size_mib: Expected number, received string/],
    ['a missing kind', { 'x.yaml': 'name: x\n' }, /x\.yaml: kind: expected "profile" or "distro"/],
    ['a duplicate name', { 'd.yaml': DISTRO, 'base.yaml': BASE, 'x.yaml': 'kind: profile\nname: base\n' }, /name: profile "base" is already defined/],
    ['a shell-hostile package', { 'd.yaml': DISTRO, 'base.yaml': BASE, 'x.yaml': 'kind: profile\nname: x\nextends: base\npackages: ["kernel; rm -rf /"]\n' }, /packages\[0\]: expected an RPM package/],
    ['a password hash with a newline', { 'd.yaml': DISTRO, 'base.yaml': BASE, 'x.yaml': 'kind: profile\nname: x\nextends: base\nroot_password_hash: "$1$ab$c\\nreboot"\n' }, /root_password_hash: expected a crypt\(3\) hash/],
    ['two root partitions', { 'd.yaml': DISTRO, 'base.yaml': BASE, 'x.yaml': 'kind: profile\nname: x\nextends: base\ndisks: { hdb: { partitions: [{ role: root, fstype: ext3 }] } }\n' }, /exactly one partition or logical volume must have role root, found 2/],
    ['partitions that do not fit', { 'd.yaml': DISTRO, 'base.yaml': BASE, 'x.yaml': 'kind: profile\nname: x\nextends: base\ndisks: { hdb: { partitions: [{ role: swap, size_mib: 600 }] } }\n' }, /600 MiB of partitions do not fit a 512 MiB disk/],
    ['a sizeless partition before the last', { 'd.yaml': DISTRO, 'base.yaml': BASE, 'x.yaml': 'kind: profile\nname: x\nextends: base\ndisks: { hda: { partitions: [{ role: root, fstype: ext3 }, { role: data, fstype: ext3 }] } }\n' }, /partitions\[0\]\.size_mib: only the last partition/],
    ['an incomplete concrete profile, naming the chain', { 'd.yaml': DISTRO, 'base.yaml': BASE.replace('distro: d\n', ''), 'x.yaml': 'kind: profile\nname: x\nextends: base\n' }, /x\.yaml \(extends base\): distro: Required/],
  ];
  for (const [what, files, re] of cases) {
    test(`${what} is a ProfileError`, () => {
      withProfiles(files, (dir) => {
        assert.throws(() => loadProfiles(dir), (e: unknown) => {
          assert.ok(e instanceof ProfileError, String(e));
          assert.match(e.message, re);
          return true;
        });
      });
    });
  }
});

describe('the shipped example profiles', () => {
  test("the notes' guest resolves to 512 MB, 2 vcpus, xenbr0, hda 10240 MiB ext3 (CHS) and hdb 1024 MiB swap", () => {
    const p = loadProfiles(PROFILES_DIR).profiles.get('centos44-hvm')!;
    assert.equal(p.xen!.memory, 512);
    assert.equal(p.xen!.vcpus, 2);
    assert.equal(p.xen!.bridge, 'xenbr0');
    assert.equal(p.xen!.serial, 'pty');
    assert.equal(p.xen!.vnc.enabled, true);
    assert.equal(p.alignment, 'chs');
    assert.deepEqual(p.disks.hda, { size_mib: 10240, partitions: [{ role: 'root', fstype: 'ext3', mount: '/', label: 'ROOT' }] });
    assert.deepEqual(p.disks.hdb, { size_mib: 1024, partitions: [{ role: 'swap', label: 'SWAP' }] });
    assert.deepEqual(p.packages, ['kernel', 'kernel-smp', 'kernel-devel', 'kernel-smp-devel']);
    assert.deepEqual(p.serial, { device: 'ttyS0', speed: 9600, root_login: true });
  });

  test('the modern profile uses 1 MiB alignment and swap on the same disk', () => {
    const p = loadProfiles(PROFILES_DIR).profiles.get('el9-kvm')!;
    assert.equal(p.alignment, '1MiB');
    assert.deepEqual(Object.keys(p.disks), ['vda']);
    assert.deepEqual(p.disks.vda!.partitions.map((x) => x.role), ['boot', 'swap', 'root']);
  });

  test('system overrides merge by the same rule and are validated', () => {
    const p = loadProfiles(PROFILES_DIR).profiles.get('centos44-hvm')!;
    const o = applyOverrides(p, { disks: { hda: { size_mib: 2048 } }, xen: { vcpus: 1 } }, 'overrides');
    assert.equal(o.disks.hda!.size_mib, 2048);
    assert.equal(o.xen!.memory, 512);
    assert.throws(() => applyOverrides(p, { xen: { vcpus: 'two' } }, 'overrides'), /overrides: xen\.vcpus: Expected number/);
    const evil = JSON.parse('{"__proto__": {"polluted": true}, "keyboard": "de"}') as Record<string, unknown>;
    assert.equal(applyOverrides(p, evil, 'overrides').keyboard, 'de');
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution');
  });
});

describe('loadProfilesCached', () => {
  test('a cached set equals the parsed one, and any change of a file or of the build reads the YAML again', () => {
    const data = mkdtempSync(join(tmpdir(), 'ks-profile-cache-'));
    const dir = join(data, 'profiles');
    try {
      cpSync(PROFILES_DIR, dir, { recursive: true });
      const cache = { file: join(data, 'var', 'cache', 'profiles.json'), key: 'build-a' };
      // No data folder: nothing is written, and nothing is created.
      assert.deepEqual(loadProfilesCached(dir, cache), loadProfiles(dir));
      assert.ok(!existsSync(join(data, 'var')));
      mkdirSync(join(data, 'var'));
      const parsed = loadProfilesCached(dir, cache);
      assert.ok(existsSync(cache.file));
      const fromCache = loadProfilesCached(dir, cache);
      assert.deepEqual(fromCache, parsed);
      assert.deepEqual(fromCache, loadProfiles(dir));
      // A file's edit, a new file and another build each miss the cache.
      const el9 = join(dir, 'el9-kvm.yaml');
      writeFileSync(el9, readFileSync(el9, 'utf8').replace(/^description: .*$/m, 'description: edited'));
      assert.equal(loadProfilesCached(dir, cache).profiles.get('el9-kvm')!.description, 'edited');
      writeFileSync(join(dir, 'extra.yaml'), 'kind: profile\nname: extra\nextends: el9-kvm\ndescription: one more\n');
      assert.equal(loadProfilesCached(dir, cache).profiles.get('extra')!.description, 'one more');
      // A cache written under another key is not read: a poisoned file under build-a means nothing to build-b.
      writeFileSync(cache.file, '{"not":"a profile set"}');
      assert.deepEqual(loadProfilesCached(dir, { ...cache, key: 'build-b' }), loadProfiles(dir));
      // A bad file is an error, cached or not.
      writeFileSync(el9, 'kind: profile\nname: [unterminated\n');
      assert.throws(() => loadProfilesCached(dir, cache), /el9-kvm\.yaml:\d+:\d+: malformed YAML/);
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  });
});
