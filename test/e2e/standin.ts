// The stand-in server, until kickstand serves: dnsmasq (DHCP + TFTP with Debian's pxelinux) and
// standin-http.ts (install script, install tree, events), both inside the lab's namespace. It
// plays kickstand's lifecycle: an armed MAC gets an install entry whose APPEND carries
// kickstand.script=<URL>; once the guest reports `built` its config says LOCALBOOT.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT, type GuestArtifacts } from './build/artifacts.ts';
import { TREE_INFO, TREE_PATHS } from './build/install-tree.ts';
import { killPid, pxelinuxMacName, type Lab } from './harness.ts';
import { renderDraft } from './render-draft.ts';
import { kickstandScriptRenderer, type KickstandScriptRenderer } from './render-kickstand.ts';
import type { E2eProfile, RecordedEvent, ServerUnderTest } from './server-under-test.ts';

/** Debian packages the stand-in needs on the host. */
export const STANDIN_PACKAGES = ['dnsmasq-base', 'pxelinux', 'syslinux-common', 'isolinux'];
const PXELINUX = '/usr/lib/PXELINUX/pxelinux.0';
const ISOLINUX = '/usr/lib/ISOLINUX/isolinux.bin';
const LDLINUX = '/usr/lib/syslinux/modules/bios/ldlinux.c32';
/** First and last address dnsmasq hands out; the guest's MAC gets a fixed one. */
const POOL = { first: 100, last: 199, guest: 10 };
/** How long to wait for the HTTP stand-in to listen. */
const LISTEN_TIMEOUT_MS = 15_000;

/** Resolves when a file exists and matches a pattern; rejects after timeoutMs. */
async function waitForFile(path: string, pattern: RegExp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(path) && pattern.test(readFileSync(path, 'utf8'))) return;
    if (Date.now() > deadline) throw new Error(`stand-in: ${path} did not show ${pattern} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Returns the pxelinux install entry for the guest. */
export function installEntry(scriptUrl: string, kernelArgs: string): string {
  return [
    'SERIAL 0 115200',
    'DEFAULT install',
    'PROMPT 0',
    'TIMEOUT 1',
    'LABEL install',
    '  KERNEL images/vmlinuz',
    '  INITRD images/initrd.img',
    `  APPEND ${kernelArgs} kickstand.script=${scriptUrl}`,
    '  IPAPPEND 2',
    '',
  ].join('\n');
}

/** Returns the pxelinux local-boot entry (a built system boots its disk). */
export function localBootEntry(): string {
  return ['SERIAL 0 115200', 'DEFAULT local', 'PROMPT 0', 'TIMEOUT 1', 'LABEL local', '  LOCALBOOT 0', ''].join('\n');
}

/** Which install script the stand-in serves: the draft (guest/draft-install.sh) or kickstand's rendered templates/install.sh.hbs. */
export type StandinScript = 'draft' | 'kickstand';

/** Starts dnsmasq and the HTTP stand-in in the lab's namespace; returns the server the test drives. */
export async function startStandin(lab: Lab, guest: GuestArtifacts, profile: E2eProfile, script: StandinScript = 'draft'): Promise<ServerUnderTest> {
  const dir = join(lab.dir, 'standin');
  const tftp = join(dir, 'tftp');
  mkdirSync(join(tftp, 'pxelinux.cfg'), { recursive: true });
  mkdirSync(join(tftp, 'images'), { recursive: true });
  copyFileSync(PXELINUX, join(tftp, 'pxelinux.0'));
  copyFileSync(LDLINUX, join(tftp, 'ldlinux.c32'));
  // Everything the guest gets comes out of the test ISO, as kickstand would serve it.
  const tree = join(dir, 'tree');
  execFileSync('xorriso', ['-osirrox', 'on', '-indev', guest.iso, '-extract', '/', tree], { stdio: 'ignore' });
  copyFileSync(join(tree, TREE_PATHS.kernel), join(tftp, 'images/vmlinuz'));
  copyFileSync(join(tree, TREE_PATHS.initrd), join(tftp, 'images/initrd.img'));
  const macConfig = join(tftp, 'pxelinux.cfg', pxelinuxMacName(lab.mac));
  writeFileSync(macConfig, localBootEntry());

  const children: ChildProcess[] = [];
  const stopAll = (): void => children.forEach((c) => killPid(c));
  const net = lab.serverIp.split('.').slice(0, 3).join('.');
  const dnsmasqLog = join(dir, 'dnsmasq.log');
  children.push(
    lab.ns.spawn('dnsmasq', [
      '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--port=0', '--user=root',
      `--interface=${lab.bridge}`, '--bind-interfaces', '--dhcp-authoritative',
      `--dhcp-range=${net}.${POOL.first},${net}.${POOL.last},255.255.255.0,1h`,
      `--dhcp-host=${lab.mac},${net}.${POOL.guest}`,
      '--dhcp-boot=pxelinux.0',
      // iPXE: option 175.176 (no-pxedhcp) = 1 skips its wait for ProxyDHCP offers.
      '--dhcp-option=encap:175,176,1b',
      '--enable-tftp', `--tftp-root=${tftp}`,
      `--dhcp-leasefile=${join(dir, 'dnsmasq.leases')}`, '--pid-file=',
      '--log-dhcp', `--log-facility=${dnsmasqLog}`,
    ], { stdio: 'ignore' }),
  );

  await waitForFile(dnsmasqLog, /DHCP, IP range/, LISTEN_TIMEOUT_MS).catch((err: unknown) => {
    stopAll();
    throw err;
  });

  const scripts: Record<string, string> = {};
  const configFile = join(dir, 'http.json');
  const writeConfig = (): void => {
    writeFileSync(configFile, JSON.stringify({ host: lab.serverIp, port: 0, scripts, trees: { [TREE_INFO.family]: tree } }));
  };
  writeConfig();
  const httpLog = join(dir, 'http.log');
  writeFileSync(httpLog, '');
  const http = lab.ns.spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'test/e2e/standin-http.ts'), configFile], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(http);
  const requests: Array<{ path: string; query: string; time: string }> = [];
  let armed: string | undefined;
  let armedScriptUrl: string | undefined;
  let renderer: KickstandScriptRenderer | undefined;
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('http stand-in did not start listening')), LISTEN_TIMEOUT_MS);
    http.once('exit', (code) => reject(new Error(`http stand-in exited with ${code}`)));
    createInterface({ input: http.stdout! }).on('line', (line) => {
      writeFileSync(httpLog, line + '\n', { flag: 'a' });
      const msg = JSON.parse(line) as { listening?: number; path?: string; query?: string; time?: string };
      if (msg.listening !== undefined) {
        clearTimeout(timer);
        resolve(msg.listening);
        return;
      }
      requests.push({ path: msg.path ?? '', query: msg.query ?? '', time: msg.time ?? '' });
      // kickstand's lifecycle: `built` retires the install, the next PXE boot goes to the disk.
      if (armed && msg.path === `/events/${armed}/built`) {
        writeFileSync(macConfig, localBootEntry());
        armed = undefined;
      }
    });
  }).catch((err: unknown) => {
    stopAll();
    throw err;
  });
  const base = `http://${lab.serverIp}:${port}`;

  return {
    kind: 'standin',
    async armInstall() {
      const token = randomBytes(12).toString('hex');
      scripts[token] = join(dir, `install-${token}.sh`);
      const draft = (): string =>
        renderDraft({
          events_url: `${base}/events/${token}`,
          stock_url: `${base}/trees/${TREE_INFO.family}/stock`,
          booted_url: `${base}/events/${token}/booted`,
          kernel_version: guest.kernelVersion,
          kernel_args: profile.kernelArgs,
          root_scsi: '0:0:0:0',
          root_label: profile.rootLabel,
          root_fstype: 'ext3',
          root_start: profile.root.start,
          root_sectors: profile.root.sectors,
          root_blocks: profile.root.kib,
          swap_scsi: '0:0:1:0',
          swap_label: profile.swapLabel,
          swap_start: profile.swap.start,
          swap_sectors: profile.swap.sectors,
        });
      renderer ??= script === 'kickstand' ? await kickstandScriptRenderer(dir, profile, lab.mac) : undefined;
      writeFileSync(scripts[token], renderer ? renderer.install(token, base) : draft());
      writeConfig();
      armedScriptUrl = `${base}/scripts/${token}/install.sh`;
      writeFileSync(macConfig, installEntry(armedScriptUrl, profile.kernelArgs));
      armed = token;
    },
    async bootIso() {
      if (!armed || !armedScriptUrl) throw new Error('stand-in: no install armed for a boot ISO');
      // What `kickstand buildiso` makes: isolinux, the installer kernel and initrd, the install entry.
      const work = join(dir, `cd-${armed}`);
      mkdirSync(join(work, 'isolinux/images'), { recursive: true });
      copyFileSync(ISOLINUX, join(work, 'isolinux/isolinux.bin'));
      copyFileSync(LDLINUX, join(work, 'isolinux/ldlinux.c32'));
      copyFileSync(join(tree, TREE_PATHS.kernel), join(work, 'isolinux/images/vmlinuz'));
      copyFileSync(join(tree, TREE_PATHS.initrd), join(work, 'isolinux/images/initrd.img'));
      writeFileSync(join(work, 'isolinux/isolinux.cfg'), installEntry(armedScriptUrl, profile.kernelArgs));
      const iso = join(dir, `boot-${armed}.iso`);
      execFileSync('xorriso', [
        '-as', 'mkisofs', '-quiet', '-o', iso, '-V', 'KICKSTAND_BOOT', '-J', '-R',
        '-b', 'isolinux/isolinux.bin', '-c', 'isolinux/boot.cat', '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table',
        work,
      ], { stdio: 'ignore' });
      return iso;
    },
    async events() {
      const out: RecordedEvent[] = [];
      for (const r of requests) {
        const parts = r.path.split('/').filter(Boolean);
        if (parts[0] === 'events' && parts.length === 3) out.push({ stage: parts[2], query: r.query, time: r.time });
      }
      return out;
    },
    logFiles() {
      return { 'dnsmasq.log': dnsmasqLog, 'http.log': httpLog, 'pxelinux.cfg': macConfig };
    },
    async stop() {
      stopAll();
    },
  };
}

/** Starts the stand-in serving kickstand's rendered install script instead of the draft. */
export function startStandinRendered(lab: Lab, guest: GuestArtifacts, profile: E2eProfile): Promise<ServerUnderTest> {
  return startStandin(lab, guest, profile, 'kickstand');
}
