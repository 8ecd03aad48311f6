// The e2e lab: a private network namespace holding a bridge (the server side's address lives
// there), a tap device for QEMU and a tcpdump capture; QEMU guests (TCG, e1000 NIC, two IDE disks)
// booted from the network or from disk, each with its serial console in a log file.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNetns, type Netns } from '../system/lib/netns.ts';
import { REPO_ROOT } from './build/artifacts.ts';

/** Host packages the lab needs (QEMU with Debian's iPXE ROMs, the capture, disk checks). */
export const LAB_PACKAGES = ['qemu-system-x86', 'ipxe-qemu', 'ovmf', 'tcpdump', 'iproute2', 'fdisk', 'e2fsprogs', 'util-linux', 'xorriso', 'cpio', 'dosfstools', 'mtools'];
/**
 * Default budget of one guest boot (KICKSTAND_E2E_BOOT_TIMEOUT in seconds overrides it): a PXE
 * install takes ~40 s here under TCG on two shared cores, iPXE's ~15 s IPv6 wait included.
 */
export const DEFAULT_BOOT_TIMEOUT_MS = Number(process.env.KICKSTAND_E2E_BOOT_TIMEOUT ?? 240) * 1000;
/** Where failed runs leave their logs. */
export const ARTIFACTS_DIR = join(REPO_ROOT, 'artifacts/e2e');

export interface LabOptions {
  /** Server address on the bridge, CIDR; lives only inside the lab's namespace. */
  serverCidr?: string;
  /** The guest's MAC address. */
  mac?: string;
  /** Capture traffic on the bridge into lab.pcap (default true). */
  capture?: boolean;
}

/** How one QEMU run ended. */
export interface BootResult {
  name: string;
  exitCode: number | null;
  timedOut: boolean;
  seconds: number;
  serialLog: string;
  serial: string;
}

export interface BootOptions {
  /** Name of this boot, used for its log files (`boot1-pxe`). */
  name: string;
  /**
   * `pxe`: the NIC's iPXE ROM only; `disk`: hda only, NIC without any option ROM (a failed disk
   * boot cannot fall back to PXE); `pxe-then-disk`: PXE first, then hda (for a local-boot menu);
   * `cd`: the notes' `dca` order with `cdrom` attached as hdc and no NIC boot ROM.
   */
  from: 'pxe' | 'disk' | 'pxe-then-disk' | 'cd';
  /** ISO attached as the IDE secondary master (hdc), for `cd`. */
  cdrom?: string;
  timeoutMs?: number;
  /** Extra QEMU arguments (e.g. a CD-ROM). */
  extraArgs?: string[];
  /**
   * Firmware: SeaBIOS (default); OVMF; or OVMF's Secure Boot build with Microsoft's keys enrolled
   * (q35 with SMM, Secure Boot enforced). UEFI guests run on q35 with hda on the first SATA port.
   */
  firmware?: 'bios' | 'uefi' | 'secboot';
  /**
   * How a UEFI guest boots from the network: `ipxe`, QEMU's iPXE option ROM on an e1000; `native`,
   * OVMF's own PXE on a virtio NIC without ROM; `http`, OVMF's own HTTP Boot (its PXE switched off).
   */
  uefiNet?: 'ipxe' | 'native' | 'http';
}

/** Debian's OVMF builds (package ovmf). */
export const OVMF = {
  code: '/usr/share/OVMF/OVMF_CODE_4M.fd',
  vars: '/usr/share/OVMF/OVMF_VARS_4M.fd',
  secbootCode: '/usr/share/OVMF/OVMF_CODE_4M.secboot.fd',
  msVars: '/usr/share/OVMF/OVMF_VARS_4M.ms.fd',
} as const;

/** QEMU boot order per boot source (n: network, c: first hard disk). */
const BOOT_ORDER: Record<BootOptions['from'], string> = { pxe: 'n', disk: 'c', 'pxe-then-disk': 'nc', cd: 'dca' };
/** How long to wait for tcpdump to open its capture file before the first boot. */
const CAPTURE_START_MS = 5_000;

/** Returns the MAC in pxelinux's file name form: `01-52-54-00-…`, lowercase. */
export function pxelinuxMacName(mac: string): string {
  return `01-${mac.toLowerCase().replace(/:/g, '-')}`;
}

/** A lab: namespace, bridge, tap, disks and a work folder; `cleanup()` removes all of it. */
export class Lab {
  readonly ns: Netns;
  readonly dir: string;
  readonly bridge = 'ksbr0';
  readonly tap = 'kstap0';
  readonly serverIp: string;
  readonly serverCidr: string;
  readonly mac: string;
  readonly hda: string;
  readonly hdb: string;
  /** Every boot so far, in order. */
  readonly boots: BootResult[] = [];
  private capture?: ChildProcess;
  private qemu?: ChildProcess;

  /** Creates the namespace, bridge, tap and (sparse) disk images hda and hdb. */
  constructor(options: LabOptions & { hdaBytes: number; hdbBytes: number }) {
    this.serverCidr = options.serverCidr ?? '10.231.0.1/24';
    this.serverIp = this.serverCidr.split('/')[0];
    this.mac = options.mac ?? '52:54:00:4b:53:01';
    this.dir = mkdtempSync(join(tmpdir(), 'ks-e2e-'));
    this.hda = join(this.dir, 'hda.img');
    this.hdb = join(this.dir, 'hdb.img');
    sparseFile(this.hda, options.hdaBytes);
    sparseFile(this.hdb, options.hdbBytes);
    this.ns = createNetns('kse2e');
    try {
      const ipns = (...args: string[]): string => this.ns.exec('ip', args);
      ipns('link', 'add', this.bridge, 'type', 'bridge', 'forward_delay', '0');
      ipns('addr', 'add', this.serverCidr, 'dev', this.bridge);
      ipns('link', 'set', this.bridge, 'up');
      // A port with carrier keeps the bridge RUNNING before QEMU opens the tap, as a physical
      // port would (Node's os.networkInterfaces() lists no address of a bridge without carrier).
      // A veth pair, both ends in the namespace: this kernel may have no dummy driver.
      ipns('link', 'add', 'ksport0', 'type', 'veth', 'peer', 'name', 'ksport1');
      ipns('link', 'set', 'ksport0', 'master', this.bridge);
      ipns('link', 'set', 'ksport0', 'up');
      ipns('link', 'set', 'ksport1', 'up');
      ipns('tuntap', 'add', 'dev', this.tap, 'mode', 'tap');
      ipns('link', 'set', this.tap, 'master', this.bridge);
      ipns('link', 'set', this.tap, 'up');
      if (options.capture !== false) {
        this.capture = this.ns.spawn('tcpdump', ['-i', this.bridge, '-U', '-n', '-s', '0', '-w', join(this.dir, 'lab.pcap')], {
          stdio: 'ignore',
        });
      }
    } catch (err) {
      this.cleanup();
      throw err;
    }
  }

  /**
   * Returns QEMU's arguments for a boot of the lab's guest (TCG, 512 MiB, the two IDE disks, an
   * e1000 on the lab's tap), the serial console going to `serial` (a -serial argument).
   */
  qemuArgs(options: Omit<BootOptions, 'name' | 'timeoutMs'>, serial: string): string[] {
    // No option ROM at all unless the boot is meant to use the network.
    const rom = options.from === 'disk' || options.from === 'cd' ? ',romfile=' : '';
    const cdrom = options.cdrom ? ['-drive', `file=${options.cdrom},format=raw,if=ide,index=2,media=cdrom,readonly=on`] : [];
    const accel = process.env.KICKSTAND_E2E_ACCEL ?? 'tcg';
    if (options.firmware && options.firmware !== 'bios') return this.uefiArgs(options, accel, serial);
    return [
      '-machine', `pc,accel=${accel}`,
      '-m', '512',
      '-display', 'none',
      '-no-reboot',
      '-serial', serial,
      '-drive', `file=${this.hda},format=raw,if=ide,index=0`,
      '-drive', `file=${this.hdb},format=raw,if=ide,index=1`,
      '-netdev', `tap,id=n0,ifname=${this.tap},script=no,downscript=no`,
      '-device', `e1000,netdev=n0,mac=${this.mac}${rom}`,
      ...cdrom,
      // A failed boot reboots after 1 s, and -no-reboot turns that into QEMU exiting (the
      // default, -1, would sit at "No bootable device" until the timeout).
      '-boot', `order=${BOOT_ORDER[options.from]},reboot-timeout=1000`,
      // KICKSTAND_E2E_SGA=1: sgabios copies BIOS text (SeaBIOS, iPXE, pxelinux without SERIAL) to
      // the serial log, one escape sequence per character: a debugging aid, off by default.
      ...(process.env.KICKSTAND_E2E_SGA ? ['-device', 'sga'] : []),
      ...(options.extraArgs ?? []),
    ];
  }

  /** Boots the guest once and resolves when QEMU exits (the guest powers off) or the timeout kills it. */
  async boot(options: BootOptions): Promise<BootResult> {
    const serialLog = join(this.dir, `${options.name}.serial.log`);
    const qemuLog = openSync(join(this.dir, `${options.name}.qemu.log`), 'w');
    const args = this.qemuArgs(options, `file:${serialLog}`);
    await this.captureStarted();
    const started = Date.now();
    const child = this.ns.spawn('qemu-system-x86_64', args, { stdio: ['ignore', qemuLog, qemuLog] });
    closeSync(qemuLog);
    this.qemu = child;
    const timeoutMs = options.timeoutMs ?? DEFAULT_BOOT_TIMEOUT_MS;
    let timedOut = false;
    const exitCode = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        timedOut = true;
        killPid(child);
      }, timeoutMs);
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
    this.qemu = undefined;
    const serial = existsSync(serialLog) ? readFileSync(serialLog, 'latin1') : '';
    const result: BootResult = {
      name: options.name,
      exitCode,
      timedOut,
      seconds: Math.round((Date.now() - started) / 100) / 10,
      serialLog,
      serial,
    };
    this.boots.push(result);
    return result;
  }

  /**
   * Returns QEMU's arguments for a UEFI boot: OVMF from pflash with this guest's own copy of the
   * variable store (one per firmware build, kept across boots like a machine's NVRAM), hda on the
   * first SATA port, boot order by bootindex (network first for network boots).
   */
  private uefiArgs(o: Omit<BootOptions, 'name' | 'timeoutMs'>, accel: string, serial: string): string[] {
    const secure = o.firmware === 'secboot';
    const vars = join(this.dir, secure ? 'ovmf-vars-ms.fd' : 'ovmf-vars.fd');
    if (!existsSync(vars)) cpSync(secure ? OVMF.msVars : OVMF.vars, vars);
    const net = o.from === 'pxe' || o.from === 'pxe-then-disk';
    const mode = o.uefiNet ?? 'ipxe';
    const nic = mode === 'ipxe' && net ? 'e1000' : 'virtio-net-pci';
    const rom = mode === 'ipxe' && net ? '' : ',romfile=';
    return [
      '-machine', `q35,accel=${accel}${secure ? ',smm=on' : ''}`,
      ...(secure ? ['-global', 'driver=cfi.pflash01,property=secure,value=on'] : []),
      '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${secure ? OVMF.secbootCode : OVMF.code}`,
      '-drive', `if=pflash,format=raw,unit=1,file=${vars}`,
      '-m', '512',
      '-display', 'none',
      '-no-reboot',
      '-serial', serial,
      '-drive', `file=${this.hda},format=raw,if=none,id=hda`,
      '-device', `ide-hd,bus=ide.0,drive=hda,bootindex=${net ? 2 : 1}`,
      '-netdev', `tap,id=n0,ifname=${this.tap},script=no,downscript=no`,
      '-device', `${nic},netdev=n0,mac=${this.mac}${rom}${net ? ',bootindex=1' : ''}`,
      ...(mode === 'http' && net ? ['-fw_cfg', 'name=opt/org.tianocore/IPv4PXESupport,string=n', '-fw_cfg', 'name=opt/org.tianocore/IPv6PXESupport,string=n'] : []),
      ...(o.extraArgs ?? []),
    ];
  }

  /** Resolves once tcpdump has opened its capture file (or at once without capture), so boots are captured whole. */
  async captureStarted(): Promise<void> {
    if (!this.capture) return;
    const pcap = join(this.dir, 'lab.pcap');
    const deadline = Date.now() + CAPTURE_START_MS;
    while (!existsSync(pcap) && Date.now() < deadline && this.capture.exitCode === null) {
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Copies the work folder's logs and capture (not disk images, ISOs or served trees) to artifacts/e2e/<name>-<time>/; returns it. */
  keepArtifacts(name: string, extra: Record<string, string> = {}): string {
    const dest = join(ARTIFACTS_DIR, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
    mkdirSync(dest, { recursive: true });
    cpSync(this.dir, dest, { recursive: true, filter: (src) => !/\.(img|iso)$/.test(src) && !/\/(tftp|tree)(\/|$)/.test(src) });
    for (const [file, text] of Object.entries(extra)) writeFileSync(join(dest, file), text);
    return dest;
  }

  /** Stops QEMU and the capture (by PID), deletes the namespace with its bridge and tap, removes the work folder. */
  cleanup(options: { keepDir?: boolean } = {}): void {
    if (this.qemu) killPid(this.qemu);
    if (this.capture?.pid !== undefined && this.capture.exitCode === null) {
      try {
        process.kill(this.capture.pid, 'SIGINT');
      } catch {
        /* already gone */
      }
      spawnSync('sleep', ['0.3']);
    }
    this.ns.cleanup();
    if (!options.keepDir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Creates a sparse file of the given size (a blank disk). */
export function sparseFile(path: string, bytes: number): void {
  closeSync(openSync(path, 'w'));
  const r = spawnSync('truncate', ['-s', String(bytes), path]);
  if (r.status !== 0) throw new Error(`truncate ${JSON.stringify(path)} failed`);
}

/** Kills a child by its PID (never by name). */
export function killPid(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, signal);
  } catch {
    /* already gone */
  }
}

/** Returns the serial console's marker lines (`KICKSTAND-…`), for assertions and messages. */
export function markers(serial: string): string[] {
  return serial.split(/\r?\n/).filter((l) => l.includes('KICKSTAND-') || l.startsWith('kickstand:'));
}
