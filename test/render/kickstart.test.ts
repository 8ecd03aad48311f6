import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkKickstart, words } from './ks-grammar.ts';
import { allProfiles, contextFor, renderer } from './fixtures.ts';
import type { Family } from '../../server/profiles/schema.ts';

const FAMILIES: Family[] = ['el4', 'el5', 'el6', 'el7', 'el8', 'el9'];
let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'kickstand-ks-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('the grammar checker itself', () => {
  test('splits quoted words like shlex', () => {
    assert.deepEqual(words('bootloader --append="a b" --x "c d"'), ['bootloader', '--append=a b', '--x', 'c d']);
  });
  test('catches install on el8, %end on el4, a missing %end on el7, unknown options and commands', () => {
    const base = (f: Family, extra: string) => `lang en_US\nkeyboard us\nrootpw --iscrypted x\ntimezone UTC\nbootloader --location=mbr\npart / --size=1\nurl --url=http://x/\n${extra}`;
    assert.match(checkKickstart(base('el8', 'install\n%packages\n%end\n'), 'el8').problems.join('\n'), /el8 has no command "install"/);
    assert.match(checkKickstart(base('el4', 'install\n%packages\n%end\n'), 'el4').problems.join('\n'), /%end is not understood by el4/);
    assert.match(checkKickstart(base('el7', 'install\n%packages\n%post\n%end\n'), 'el7').problems.join('\n'), /%post opens before %packages is closed/);
    assert.match(checkKickstart(base('el9', 'reqpart --bogus\n%packages\n%end\n'), 'el9').problems.join('\n'), /reqpart has no option --bogus/);
    assert.match(checkKickstart(base('el5', 'install\nlangsupport en_US\n%packages\n'), 'el5').problems.join('\n'), /el5 has no command "langsupport"/);
    assert.deepEqual(checkKickstart(base('el6', 'install\n%packages\n%end\n'), 'el6').problems, []);
  });
});

describe('rendered kickstarts follow their family grammar', async () => {
  const r = await renderer();
  const { profiles, distros } = allProfiles();
  const anaconda = [...profiles.keys()].filter((n) => distros.get(profiles.get(n)!.distro)!.installer === 'anaconda');

  for (const family of FAMILIES) {
    test(`${family}: every anaconda profile rendered as ${family} passes the grammar, and its %post/%onerror pass bash -n`, () => {
      for (const name of anaconda) {
        // A UEFI profile cannot render for a family whose anaconda cannot install it (uefi.test.ts).
        const fw = profiles.get(name)!.firmware;
        if ((fw !== 'bios' && (family === 'el4' || family === 'el5')) || (fw === 'both' && family === 'el6')) continue;
        for (const armed of [true, false]) {
          const text = r.render('kickstart', contextFor(name, { family, armed }));
          const { problems, sections } = checkKickstart(text, family);
          assert.deepEqual(problems, [], `${name} as ${family}:\n${text}`);
          for (const s of sections.filter((x) => x.header !== '%packages')) {
            const file = join(dir, `${name}-${family}-${s.header.slice(1)}.sh`);
            writeFileSync(file, s.body.join('\n'));
            const b = spawnSync('bash', ['-n', file], { encoding: 'utf8' });
            assert.equal(b.status, 0, `${name} ${family} ${s.header}: ${b.stderr}`);
          }
        }
      }
    });
  }

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

  test('el9 uses reqpart, labels, %end and no install command', () => {
    const text = r.render('kickstart', contextFor('el9-kvm'));
    assert.ok(text.split('\n').includes('reqpart'));
    assert.match(text, /^part \/boot --fstype=xfs --size=1024 --ondisk=vda --asprimary --label=BOOT$/m);
    assert.doesNotMatch(text, /^install$/m);
  });
});
