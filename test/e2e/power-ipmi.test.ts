// Rebuild with reboot through a BMC, end to end (issue 18): OpenIPMI's ipmi_sim on loopback is
// the guest's BMC; its chassis commands start and stop the QEMU guest in the lab (power on runs
// QEMU, booting from the network once when told `bootdev pxe`, else from disk; power off stops
// it). kickstand serves the lab as in pxe-install.test.ts. The operator only types kickstand
// commands: the guest installs, its MBR is wiped and it is powered on (it sits at "no bootable
// device"), `kickstand system rebuild NAME --reboot` power-cycles it through the BMC, it PXE-boots,
// reinstalls and reports built; bad credentials and a silent BMC fail clearly and leave it armed.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePackages, isRoot } from '../system/lib/apt.ts';
import { BMC_PACKAGES, BMC_USER, freeUdpPort, startBmc, writeScript, type Bmc } from '../system/lib/bmc.ts';
import { shellQuote } from '../../server/power/remote.ts';
import { buildGuestArtifacts, type GuestArtifacts } from './build/artifacts.ts';
import { mbrHasGrub, wipeBootCode } from './disk-checks.ts';
import { DEFAULT_BOOT_TIMEOUT_MS, LAB_PACKAGES, Lab, markers } from './harness.ts';
import { KICKSTAND_PACKAGES, SYSTEM_NAME, startKickstand } from './kickstand-server.ts';
import { ksCli, poweredMachineArgs, waitForStage, waitUntil } from './power-lab.ts';
import type { ServerUnderTest } from './server-under-test.ts';
import { INSTALL_STAGES, PROFILE } from './suite.ts';

const PASSWORD = 'Lab-bmc-9';
const lastLine = (text: string) => text.trim().split('\n').at(-1) ?? '';
const servers = new Set((process.env.KICKSTAND_E2E_SERVERS ?? 'kickstand,standin').split(',').map((s) => s.trim()));
const skip = !isRoot() ? 'needs root (namespaces, tap device, apt)' : servers.has('kickstand') ? false : 'kickstand not in KICKSTAND_E2E_SERVERS';

/** Writes the chassis-control program: power on starts QEMU in the lab (once from the network after `bootdev pxe`), off stops it. */
function qemuChassis(dir: string, lab: Lab): string {
  const serial = join(dir, 'serial.log');
  const argv = ['ip', 'netns', 'exec', lab.ns.name, 'qemu-system-x86_64', ...poweredMachineArgs(lab, serial)];
  writeScript(join(dir, 'start-qemu'), `#!/bin/sh\n# $1: the first boot device (n: network, d: CD, c: disk); later boots use the disk.\nexec ${argv.map(shellQuote).join(' ')} -boot "once=$1,order=c,reboot-timeout=1000"\n`);
  return writeScript(
    join(dir, 'chassis'),
    `#!/bin/sh
# ipmi_sim chassis control for the lab's QEMU guest: <dev> get|set [param [value]]…
d=${shellQuote(dir)}
echo "$*" >> "$d/calls.log"
dev=$1; op=$2; shift 2
running() {
  pid=$(cat "$d/qemu.pid" 2>/dev/null) || return 1
  st=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}
stop() {
  if running; then
    kill "$pid"
    i=0; while running && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
    running && kill -9 "$pid"
  fi
  rm -f "$d/qemu.pid"
}
start() {
  running && return 0
  boot=$(cat "$d/boot" 2>/dev/null || echo default); rm -f "$d/boot"
  case $boot in pxe) once=n;; cdrom) once=d;; *) once=c;; esac
  echo "start once=$once" >> "$d/calls.log"
  "$d/start-qemu" "$once" </dev/null >>"$d/qemu.log" 2>&1 &
  echo $! > "$d/qemu.pid"
}
case $op in
get) for p in "$@"; do case $p in
       power) if running; then echo power:1; else echo power:0; fi;;
       boot) echo "boot:$(cat "$d/boot" 2>/dev/null || echo default)";;
     esac; done;;
set) while [ $# -gt 1 ]; do case $1 in
       power) if [ "$2" = 1 ]; then start; else stop; fi;;
       reset) stop; start;;
       boot) echo "$2" > "$d/boot";;
     esac; shift 2; done;;
esac
`,
  );
}

describe('e2e: rebuild --reboot through a BMC (ipmi_sim driving the QEMU guest)', { skip }, () => {
  let guest: GuestArtifacts;
  let lab: Lab | undefined;
  let server: ServerUnderTest | undefined;
  let bmc: Bmc | undefined;
  let dir = '';
  let failed = false;
  let installed = false;
  const chassisCalls = () => (existsSync(join(dir, 'calls.log')) ? readFileSync(join(dir, 'calls.log'), 'utf8').split('\n').filter((l) => l && !l.includes(' get ')) : []);
  const serial = () => (existsSync(join(dir, 'serial.log')) ? readFileSync(join(dir, 'serial.log'), 'latin1') : '');
  const why = () => `chassis: ${chassisCalls().join(' | ')}\nserial markers:\n  ${markers(serial()).slice(-15).join('\n  ')}`;
  const powerState = () => ksCli(server!, ['system', 'power', SYSTEM_NAME, 'status']).out.trim();
  const guarded = (body: (t: TestContext) => Promise<void>) => async (t: TestContext) => {
    try {
      await body(t);
    } catch (err) {
      failed = true;
      throw err;
    }
  };

  before(async () => {
    try {
      ensurePackages([...LAB_PACKAGES, ...KICKSTAND_PACKAGES, ...BMC_PACKAGES]);
      guest = buildGuestArtifacts({ log: (l) => process.stderr.write(`e2e: ${l}\n`) });
      lab = new Lab({ hdaBytes: PROFILE.hdaMib * 2 ** 20, hdbBytes: PROFILE.hdbMib * 2 ** 20 });
      dir = join(lab.dir, 'bmc');
      mkdirSync(dir);
      server = await startKickstand(lab, guest, PROFILE);
      bmc = await startBmc({ chassisControl: qemuChassis(dir, lab), password: PASSWORD });
      await lab.captureStarted();
    } catch (err) {
      failed = true;
      throw err;
    }
  });

  after(async () => {
    // Power the guest off through the BMC's own program (QEMU by PID), then stop everything.
    if (bmc) bmc.ipmitool(['chassis', 'power', 'off']);
    bmc?.stop();
    await server?.stop();
    if (lab && (failed || process.env.KICKSTAND_E2E_KEEP)) {
      const events = await server?.events().catch(() => []);
      process.stderr.write(`e2e[power-ipmi]: logs kept in ${lab.keepArtifacts('power-ipmi', { 'events.json': JSON.stringify(events ?? [], null, 2) })}\n`);
    }
    lab?.cleanup();
  });

  test('the BMC settings go in with the secret from a file; the guest is off', guarded(async () => {
    const secret = join(dir, 'bmc-password');
    writeFileSync(secret, `${PASSWORD}\n`, { mode: 0o600 });
    const set = ksCli(server!, ['system', 'power', SYSTEM_NAME, 'set', '--driver', 'ipmi', '--address', '127.0.0.1', '--port', String(bmc!.port), '--user', BMC_USER, '--secret-file', secret]);
    assert.equal(set.code, 0, set.err);
    assert.equal(powerState(), `${SYSTEM_NAME}: power is off`);
  }));

  test('rebuild --reboot: the BMC boots the guest from the network once, it installs and reports built, then powers off', guarded(async () => {
    const from = (await server!.events()).length;
    const r = ksCli(server!, ['system', 'rebuild', SYSTEM_NAME, '--reboot']);
    assert.equal(r.code, 0, r.err);
    const events = await waitForStage(server!, from, 'built', DEFAULT_BOOT_TIMEOUT_MS, why);
    const stages = events.map((e) => e.stage);
    assert.deepEqual(stages.slice(0, 2), ['armed', 'power-cycled'], why());
    for (const s of INSTALL_STAGES) assert.ok(stages.includes(s), `${s} missing from ${stages.join(', ')}\n${why()}`);
    assert.ok(!stages.includes('failed'), why());
    await waitUntil('the guest powers off after the install', () => powerState().endsWith('power is off'), 60_000);
    assert.deepEqual(chassisCalls().slice(0, 3), ['0x20 set boot pxe', '0x20 set power 1', 'start once=n']);
    assert.ok(mbrHasGrub(lab!.hda));
    installed = true;
  }));

  test('with the MBR wiped the guest powers on into "no bootable device"; rebuild --reboot power-cycles it and it reinstalls', guarded(async (t) => {
    if (!installed) return t.skip('the first install did not finish');
    wipeBootCode(lab!.hda);
    assert.ok(!mbrHasGrub(lab!.hda));
    const on = ksCli(server!, ['system', 'power', SYSTEM_NAME, 'on']);
    assert.equal(on.code, 0, on.err);
    // SeaBIOS finds no boot code, waits a second and tries again: the machine stays on.
    await new Promise((r) => setTimeout(r, 5000));
    assert.equal(powerState(), `${SYSTEM_NAME}: power is on`, 'the broken machine stays on');
    const calls = chassisCalls().length;
    const from = (await server!.events()).length;
    const r = ksCli(server!, ['system', 'rebuild', SYSTEM_NAME, '--reboot']);
    assert.equal(r.code, 0, r.err);
    const events = await waitForStage(server!, from, 'built', DEFAULT_BOOT_TIMEOUT_MS, why);
    assert.deepEqual(events.slice(0, 2).map((e) => e.stage), ['armed', 'power-cycled'], why());
    assert.ok(!events.some((e) => e.stage === 'failed'), why());
    // bootdev pxe, then the BMC's power cycle: off, and a second later on, from the network once.
    assert.deepEqual(chassisCalls().slice(calls, calls + 4), ['0x20 set boot pxe', '0x20 set power 0', '0x20 set power 1', 'start once=n'], why());
    await waitUntil('the guest powers off after the reinstall', () => powerState().endsWith('power is off'), 60_000);
    assert.ok(mbrHasGrub(lab!.hda), 'GRUB back in the MBR');
  }));

  test('a wrong password and a BMC that does not answer: exit 1 with ipmitool\'s words, power-failed, the install stays armed', guarded(async () => {
    const wrong = join(dir, 'wrong-password');
    writeFileSync(wrong, 'not-it\n', { mode: 0o600 });
    assert.equal(ksCli(server!, ['system', 'power', SYSTEM_NAME, 'set', '--driver', 'ipmi', '--address', '127.0.0.1', '--port', String(bmc!.port), '--user', BMC_USER, '--secret-file', wrong]).code, 0);
    const bad = ksCli(server!, ['system', 'rebuild', SYSTEM_NAME, '--reboot']);
    assert.equal(bad.code, 1);
    // The last line is the error (the e2e config logs at debug, so the CLI's own log lines come first).
    assert.match(lastLine(bad.err), /^kickstand: ipmi 127\.0\.0\.1:\d+: .*Unable to establish IPMI v2 \/ RMCP\+ session$/);
    assert.equal(JSON.parse(ksCli(server!, ['system', 'show', SYSTEM_NAME]).out).build, true);
    let events = await server!.events();
    assert.equal(events.at(-1)!.stage, 'power-failed');
    const silent = await freeUdpPort();
    assert.equal(ksCli(server!, ['system', 'power', SYSTEM_NAME, 'set', '--driver', 'ipmi', '--address', '127.0.0.1', '--port', String(silent), '--user', BMC_USER, '--secret-file', wrong]).code, 0);
    const down = ksCli(server!, ['system', 'power', SYSTEM_NAME, 'cycle']);
    assert.equal(down.code, 1);
    assert.match(lastLine(down.err), new RegExp(`^kickstand: ipmi 127\\.0\\.0\\.1:${silent}: .*Unable to establish IPMI v2 / RMCP\\+ session$`));
    events = await server!.events();
    assert.equal(events.at(-1)!.stage, 'power-failed');
    assert.ok(!JSON.stringify(events).includes(PASSWORD));
    ksCli(server!, ['system', 'disarm', SYSTEM_NAME]);
  }));
});
