// The plain PXE paths QEMU's iPXE ROMs never take on their own, booted against `kickstand serve`
// (issue 15), on the BIOS guest of suite.ts: with dhcp.ipxe_clients: pxe the ROM goes down the plain
// PXE path — kickstand's pxelinux.0 and its PXELINUX menu over TFTP — first with kickstand as the
// DHCP server, then through ProxyDHCP, with Debian's dnsmasq as the site's address-only DHCP
// server in a namespace of its own on the same link. Checked in the lab's capture.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePackages, isRoot } from '../system/lib/apt.ts';
import { createNetns, ip, type Netns } from '../system/lib/netns.ts';
import { buildGuestArtifacts, type GuestArtifacts } from './build/artifacts.ts';
import { countPackets, sfdiskDump, tftpReadRequests } from './disk-checks.ts';
import { LAB_PACKAGES, Lab, pxelinuxMacName } from './harness.ts';
import { KICKSTAND_PACKAGES, startKickstand, type KickstandUnderTest } from './kickstand-server.ts';
import { INSTALL_STAGES, PROFILE, assertStagesInOrder, explain, guestStages } from './suite.ts';

const servers = new Set((process.env.KICKSTAND_E2E_SERVERS ?? 'kickstand,standin').split(',').map((s) => s.trim()));
const skip = !isRoot() ? 'needs root (namespaces, tap device, apt)' : !servers.has('kickstand') ? 'kickstand not in KICKSTAND_E2E_SERVERS' : false;
const SERVER = '10.231.2.1';
const SITE_DHCP = '10.231.2.2';
/** One boot's budget: a PXELINUX install under TCG (TFTP for kernel and initrd included). */
const BOOT_TIMEOUT_MS = Number(process.env.KICKSTAND_E2E_BOOT_TIMEOUT ?? 420) * 1000;

describe('e2e plain PXE paths with kickstand (PXELINUX over TFTP, ProxyDHCP beside dnsmasq)', { skip }, () => {
  let guest: GuestArtifacts;
  let lab: Lab | undefined;
  let site: Netns | undefined;
  let server: KickstandUnderTest | undefined;
  let failed = false;

  const guarded = (body: (t: TestContext) => Promise<void>) => async (t: TestContext) => {
    try {
      await body(t);
    } catch (err) {
      failed = true;
      throw err;
    }
  };

  /** Boots from the network and returns the result, the guest stages and the TFTP requests made meanwhile. */
  const pxeBoot = async (name: string) => {
    const pcap = join(lab!.dir, 'lab.pcap');
    const before = (await server!.events()).length;
    const tftpBefore = tftpReadRequests(pcap).length;
    const boot = await lab!.boot({ name, from: 'pxe', timeoutMs: BOOT_TIMEOUT_MS });
    process.stderr.write(`e2e[pxe-paths]: ${boot.name} took ${boot.seconds} s\n`);
    const stages = guestStages((await server!.events()).slice(before));
    const tftp = tftpReadRequests(pcap).slice(tftpBefore).map((r) => r.split(' ')[1]!.replace(/^\/+/, ''));
    return { boot, stages, tftp, why: `${explain(boot, stages)}\nTFTP: ${tftp.join(' ')}` };
  };

  before(async () => {
    try {
      ensurePackages([...LAB_PACKAGES, ...KICKSTAND_PACKAGES, 'dnsmasq-base']);
      guest = buildGuestArtifacts({ log: (l) => process.stderr.write(`e2e: ${l}\n`) });
      lab = new Lab({ hdaBytes: PROFILE.hdaMib * 1048576, hdbBytes: PROFILE.hdbMib * 1048576, serverCidr: `${SERVER}/24`, mac: '52:54:00:4b:53:03' });
      server = await startKickstand(lab, guest, PROFILE, { config: { dhcp: { ipxe_clients: 'pxe' } } });
    } catch (err) {
      failed = true;
      throw err;
    }
  });

  after(async () => {
    await server?.stop();
    site?.cleanup();
    if (lab && (failed || process.env.KICKSTAND_E2E_KEEP)) {
      const extra: Record<string, string> = {
        'events.json': JSON.stringify((await server?.events().catch(() => [])) ?? [], null, 2),
        'hda.sfdisk': sfdiskDump(lab.hda).text,
      };
      process.stderr.write(`e2e[pxe-paths]: logs kept in ${lab.keepArtifacts('pxe-paths', extra)}\n`);
    }
    lab?.cleanup();
  });

  test('ipxe_clients pxe: the iPXE ROM boots kickstand\'s pxelinux.0, reads its PXELINUX menu over TFTP and installs', guarded(async () => {
    await server!.armInstall();
    const { boot, stages, tftp, why } = await pxeBoot('paths1-pxelinux');
    for (const f of ['pxelinux.0', 'ldlinux.c32', `pxelinux.cfg/${pxelinuxMacName(lab!.mac)}`, 'distros/kickstand-e2e/vmlinuz', 'distros/kickstand-e2e/initrd.img']) {
      assert.ok(tftp.includes(f), `TFTP ${f}\n${why}`);
    }
    assert.ok(boot.serial.includes('KICKSTAND-INIT: script exited 0'), why);
    assertStagesInOrder(stages, INSTALL_STAGES, why);
  }));

  test('ProxyDHCP: dnsmasq gives the address, kickstand\'s proxy offer the boot file, PXELINUX installs again', guarded(async () => {
    await server!.reconfigure({ dhcp: { mode: 'proxy' } });
    // The site's DHCP server: its own namespace, a veth port on the lab's bridge, addresses only.
    site = createNetns('kssite');
    lab!.ns.exec('ip', ['link', 'add', 'kssite0', 'type', 'veth', 'peer', 'name', 'kssite1', 'netns', site.name]);
    lab!.ns.exec('ip', ['link', 'set', 'kssite0', 'master', lab!.bridge]);
    lab!.ns.exec('ip', ['link', 'set', 'kssite0', 'up']);
    ip('-n', site.name, 'addr', 'add', `${SITE_DHCP}/24`, 'dev', 'kssite1');
    ip('-n', site.name, 'link', 'set', 'kssite1', 'up');
    const log = join(lab!.dir, 'site-dnsmasq.log');
    site.spawn('dnsmasq', [
      '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--port=0', '--user=root',
      '--interface=kssite1', '--bind-interfaces', '--dhcp-authoritative', '--dhcp-range=10.231.2.100,10.231.2.150,255.255.255.0,1h',
      `--dhcp-leasefile=${join(lab!.dir, 'site-dnsmasq.leases')}`, '--pid-file=', '--log-dhcp', `--log-facility=${log}`,
    ], { stdio: 'ignore' });
    const deadline = Date.now() + 15_000;
    while (!(existsSync(log) && /DHCP, IP range/.test(readFileSync(log, 'utf8')))) {
      assert.ok(Date.now() < deadline, 'dnsmasq did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    await server!.armInstall();
    const pcap = join(lab!.dir, 'lab.pcap');
    // kickstand's proxy answers come from port 67 or 4011 (iPXE takes the file from the proxy
    // offer and asks no further; PXE 2.1 ROMs ask on 4011: test/system/dhcp-proxy.test.ts).
    const proxyFilter = `udp and src host ${SERVER} and (src port 67 or src port 4011)`;
    const proxyBefore = countPackets(pcap, proxyFilter);
    const { boot, stages, tftp, why } = await pxeBoot('paths2-proxydhcp');
    assert.ok(countPackets(pcap, proxyFilter) > proxyBefore, `kickstand sent its proxy offers\n${why}`);
    assert.match(readFileSync(server!.logFile, 'utf8'), new RegExp(`"mac":"${lab!.mac}".*"reason":"proxy boot pxelinux\\.0 for arch 0 \\(ipxe\\)"`), 'kickstand answered as a proxy');
    assert.match(readFileSync(log, 'utf8'), new RegExp(`DHCPACK\\(kssite1\\) 10\\.231\\.2\\.1[0-5]\\d ${lab!.mac}`), 'dnsmasq leased the address');
    assert.ok(tftp.includes('pxelinux.0') && tftp.includes(`pxelinux.cfg/${pxelinuxMacName(lab!.mac)}`), why);
    assert.match(boot.serial, new RegExp(`KICKSTAND-DHCP: eth0 10\\.231\\.2\\.1[0-5]\\d/\\S+ router=\\S+ server=${SITE_DHCP.replace(/\./g, '\\.')}`), `the installer's address came from dnsmasq\n${why}`);
    assert.ok(boot.serial.includes('KICKSTAND-INIT: script exited 0'), why);
    assertStagesInOrder(stages, INSTALL_STAGES, why);
  }));
});
