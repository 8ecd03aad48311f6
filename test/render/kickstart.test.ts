import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkKickstart, ORDER, words } from './ks-grammar.ts';
import { allProfiles, caseContext, contextFor, renderer, STATIC_IP } from './fixtures.ts';
import type { Family } from '../../server/profiles/schema.ts';
import { firmwareRefusal } from '../../server/render/context.ts';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'kickstand-ks-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A minimal kickstart of a family with extra lines before %packages. */
function minimal(f: Family, extra: string): string {
  const old = f === 'el4' || f === 'el5';
  const head = [
    ...(['el4', 'el5', 'el6'].includes(f) ? ['install'] : []),
    'url --url=http://x/',
    'lang en_US',
    f === 'el4' ? 'langsupport en_US' : '',
    'keyboard us',
    'rootpw --iscrypted x',
    'timezone UTC',
    'bootloader --location=mbr',
    'part / --size=1',
  ];
  return `${head.join('\n')}\n${extra}\n%packages\nkernel\n${old ? '' : '%end\n'}`;
}
const problemsOf = (f: Family, extra: string): string => checkKickstart(minimal(f, extra), f).problems.join('\n');

describe('the grammar checker itself fails on known-bad kickstarts', () => {
  test('splits quoted words like shlex', () => {
    assert.deepEqual(words('bootloader --append="a b" --x "c d"'), ['bootloader', '--append=a b', '--x', 'c d']);
  });
  test('a minimal kickstart of every family passes (so the failures below are the lines added)', () => {
    for (const f of ORDER) assert.equal(problemsOf(f, ''), '', f);
  });
  test('install on el8, %end on el4, a missing %end on el7, unknown options and commands', () => {
    assert.match(problemsOf('el8', 'install'), /el8 has no command "install"/);
    assert.match(checkKickstart(`${minimal('el4', '')}%end\n`, 'el4').problems.join('\n'), /%end is not understood by el4/);
    assert.match(checkKickstart(minimal('el7', '').replace('%end\n', '%post\n%end\n'), 'el7').problems.join('\n'), /%post opens before %packages is closed/);
    assert.match(problemsOf('el9', 'reqpart --bogus'), /reqpart has no option --bogus/);
    assert.match(problemsOf('el5', 'langsupport en_US'), /langsupport is deprecated or removed by the version after el5/);
    assert.match(problemsOf('el6', 'langsupport en_US'), /el6 has no command "langsupport"/);
  });
  test('finding 2: a value in option position: timezone --utc --utc (el4), keyboard --help, timezone --nontp (el9)', () => {
    const el4 = minimal('el4', '').replace('timezone UTC', 'timezone --utc --utc');
    assert.match(checkKickstart(el4, 'el4').problems.join('\n'), /timezone --utc is given twice[\s\S]*timezone takes 1 arguments, got 0/);
    assert.match(checkKickstart(minimal('el5', '').replace('keyboard us', 'keyboard --help'), 'el5').problems.join('\n'), /el5 keyboard has no option --help/);
    const el9 = checkKickstart(minimal('el9', '').replace('timezone UTC', 'timezone --nontp'), 'el9').problems.join('\n');
    assert.match(el9, /timezone takes 1 arguments, got 0/);
    assert.match(el9, /timezone --nontp is deprecated or removed by the version after el9/);
    assert.match(problemsOf('el7', 'network --device=-x --bootproto=dhcp'), /network --device=-x: a value starting with "-"/);
  });
  test('finding 3: @base --nobase in %packages, static network without an address, LVM names that do not exist', () => {
    assert.match(checkKickstart(minimal('el9', '').replace('kernel', '@base --nobase'), 'el9').problems.join('\n'), /carries an option/);
    assert.match(problemsOf('el9', 'network --device=link --bootproto=static'), /needs --ip and --netmask/);
    assert.match(problemsOf('el9', 'volgroup vg pv.9'), /volgroup vg: no part pv\.9/);
    assert.match(problemsOf('el9', 'logvol /x --vgname=nope --name=x --size=1'), /--vgname names no volgroup/);
  });
  test('finding 4: --label on el4 part and on el6 logvol is refused; el5 part takes it', () => {
    assert.match(problemsOf('el4', 'part /x --size=1 --label=X'), /el4 part has no option --label/);
    assert.equal(problemsOf('el5', 'part /x --size=1 --label=X'), '');
    assert.match(problemsOf('el6', 'part pv.1 --size=1\nvolgroup v pv.1\nlogvol /x --vgname=v --name=x --size=1 --label=X'), /el6 logvol has no option --label/);
  });
  test('next-version deprecations: install and auth on el7, --isUtc on el8, auth on el9, vnc on el10', () => {
    assert.match(problemsOf('el7', 'install'), /install is deprecated or removed by the version after el7/);
    assert.match(problemsOf('el7', 'auth --enableshadow --passalgo=sha512'), /auth is deprecated/);
    assert.match(checkKickstart(minimal('el8', '').replace('timezone UTC', 'timezone UTC --isUtc'), 'el8').problems.join('\n'), /timezone --isUtc is deprecated/);
    assert.match(problemsOf('el9', 'authconfig --enableshadow'), /authconfig is deprecated or removed by the version after el9/);
    assert.match(problemsOf('el10', 'authconfig --enableshadow'), /el10 has no command "authconfig"/);
    assert.match(problemsOf('el10', 'vnc --password=x'), /vnc is deprecated or removed by the version after el10/);
  });
});

describe('rendered kickstarts follow their family grammar', async () => {
  const r = await renderer();
  const { profiles, distros } = allProfiles();
  const anaconda = [...profiles.keys()].filter((n) => distros.get(profiles.get(n)!.distro)!.installer === 'anaconda');

  /** Checks one rendered kickstart against family, and its %post/%onerror with bash -n. */
  const check = (label: string, text: string, family: Family) => {
    const { problems, sections } = checkKickstart(text, family);
    assert.deepEqual(problems, [], `${label}:\n${text}`);
    for (const s of sections.filter((x) => x.header !== '%packages')) {
      const file = join(dir, `${label.replace(/\W+/g, '-')}-${s.header.slice(1)}.sh`);
      writeFileSync(file, s.body.join('\n'));
      const b = spawnSync('bash', ['-n', file], { encoding: 'utf8' });
      assert.equal(b.status, 0, `${label} ${s.header}: ${b.stderr}`);
    }
  };

  for (const family of ORDER) {
    test(`${family}: every anaconda profile rendered as ${family} passes the grammar and the next version's deprecations, and its %post/%onerror pass bash -n`, () => {
      for (const name of anaconda) {
        // A UEFI profile cannot render for a family whose anaconda cannot install it (uefi.test.ts).
        if (firmwareRefusal(profiles.get(name)!.firmware, { installer: 'anaconda', family })) continue;
        for (const armed of [true, false]) check(`${name} as ${family}`, r.render('kickstart', caseContext(name, { family, armed })), family);
      }
    });
  }

  test('every example profile and every family’s demanding profile renders for its own family and passes', () => {
    const own = [...anaconda.filter((n) => !n.startsWith('demanding-')), ...ORDER.map((f) => `demanding-${f}`)];
    const families = new Set<Family>();
    for (const name of own) {
      const ctx = caseContext(name);
      families.add(ctx.family.name);
      check(`${name} (${ctx.family.name})`, r.render('kickstart', ctx), ctx.family.name);
    }
    assert.deepEqual([...families].sort(), [...ORDER].sort(), 'a family has no profile of its own');
  });

  test('the demanding profiles: several disks, LVM over both, static address, extra packages, kernel arguments', () => {
    for (const family of ORDER) {
      const text = r.render('kickstart', caseContext(`demanding-${family}`));
      const lines = text.split('\n');
      assert.ok(lines.some((l) => /^clearpart .*--drives[= ](hda,hdb|vda,vdb)$/.test(l)), `${family}: two disks`);
      assert.ok(lines.some((l) => /^volgroup sys pv\.[hv]da2 pv\.[hv]db1$/.test(l)), `${family}: volgroup over both disks`);
      assert.ok(lines.some((l) => l.startsWith('logvol / --vgname=sys --name=root')), `${family}: root on LVM`);
      assert.match(text, new RegExp(`^network .*--bootproto[= ]static --ip[= ]${STATIC_IP.replace(/\./g, '\\.')} --netmask[= ]255\\.255\\.255\\.0 --gateway[= ]192\\.168\\.50\\.1 --nameserver[= ]192\\.168\\.50\\.2,192\\.168\\.50\\.3 `, 'm'), family);
      assert.match(text, /^bootloader .*--append[= ]"console=ttyS1,115200 elevator=deadline audit=1"$/m, family);
      const packages = text.split('\n%packages\n')[1]!.split(/\n(%end\n)?\n%post/)[0]!.split('\n');
      assert.ok(packages.length >= 4 && packages.some((p) => /^-[a-zA-Z]/.test(p)), `${family}: extra packages and an exclusion: ${packages.join(' ')}`);
    }
  });

  test('el4 matches the notes: install, url to the tree, langsupport, eth0 by DHCP, MBR bootloader on hda with the serial console, hda/hdb', () => {
    const text = r.render('kickstart', contextFor('centos44-hvm'));
    for (const line of [
      'install',
      'url --url http://10.0.0.1:8080/trees/centos-4.4-i386/',
      'langsupport --default=en_US.UTF-8 en_US.UTF-8',
      'network --device eth0 --bootproto dhcp --hostname ngtest-hvm.example.org',
      'bootloader --location=mbr --driveorder=hda --append "console=ttyS0,9600 selinux=0"',
      'clearpart --all --initlabel --drives=hda,hdb',
      'part / --fstype ext3 --size 1 --grow --ondisk=hda --asprimary',
      'part swap --fstype swap --size 1 --grow --ondisk=hdb --asprimary',
      "SERIAL_TTY='ttyS0'",
      'report built',
    ]) assert.ok(text.split('\n').includes(line), `missing ${JSON.stringify(line)}`);
    assert.match(text, /%packages\nkernel\nkernel-smp\nkernel-devel\nkernel-smp-devel\n/);
  });

  test('el9 uses reqpart, labels, %end and no install command; the NIC by its MAC (the installer has no net.ifnames=0)', () => {
    const text = r.render('kickstart', contextFor('el9-kvm'));
    assert.ok(text.split('\n').includes('reqpart'));
    assert.match(text, /^part \/boot --fstype=xfs --size=1024 --ondisk=vda --asprimary --label=BOOT$/m);
    assert.doesNotMatch(text, /^install$/m);
    assert.match(text, /^network --onboot=yes --device=00:16:3e:84:b5:99 --bootproto=dhcp /m);
    assert.doesNotMatch(text, /--device=eth0/);
  });

  test('finding 4: labels agree across artifacts: el5+ part carries --label; el4 %post labels ROOT and SWAP and writes fstab and grub.conf as rescue.sh does', () => {
    assert.match(r.render('kickstart', contextFor('centos44-hvm', { family: 'el5' })), /^part \/ --fstype=ext3 --size=1 --grow --ondisk=hda --asprimary --label=ROOT$/m);
    const el4 = r.render('kickstart', contextFor('centos44-hvm'));
    const post = el4.slice(el4.indexOf('\n%post\n'));
    assert.match(post, /^set_label '\/dev\/hda1' 'ext' 'ROOT'\nset_label '\/dev\/hdb1' 'swap' 'SWAP'\n/m);
    assert.match(post, /^write_fstab ''\nwrite_grub_conf ''$/m);
    const rescue = r.render('rescue', contextFor('centos44-hvm'));
    assert.match(rescue, /^set_label "\$\(wait_disk 'hda'\)"'1' 'ext' 'ROOT'$/m);
    assert.match(rescue, /^KERNEL_ARGS='ro root=LABEL=ROOT /m);
  });

  test('finding 6: el7+ splits the console keymap from the X layout (de-latin1 is no X layout)', () => {
    const text = r.render('kickstart', contextFor('el10-kvm'));
    assert.match(text, /^keyboard --vckeymap=de-latin1 --xlayouts=de$/m);
    assert.match(r.render('kickstart', contextFor('el10-kvm', { system: { overrides: { keyboard: 'uk' } } })), /^keyboard --vckeymap=uk --xlayouts=gb$/m);
    assert.match(r.render('kickstart', contextFor('el10-kvm', { system: { overrides: { keyboard: 'dvorak', keyboard_xlayout: 'us' } } })), /^keyboard --vckeymap=dvorak --xlayouts=us$/m);
    assert.match(r.render('kickstart', contextFor('centos44-hvm', { system: { overrides: { keyboard: 'de-latin1' } } })), /^keyboard de-latin1$/m, 'el4 has one keymap');
  });
});
