// kickstand itself as the e2e server: `kickstand serve` inside the lab's namespace with DHCP in
// full mode on the bridge, TFTP and HTTP; the test ISO in its isos folder; a distro (installer:
// script) and a profile matching the e2e profile; the guest registered with the CLI, which works
// on the same SQLite store beside the running server.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, type GuestArtifacts } from './build/artifacts.ts';
import { TREE_INFO, TREE_PATHS } from './build/install-tree.ts';
import { killPid, type Lab } from './harness.ts';
import type { E2eProfile, RecordedEvent, ServerUnderTest } from './server-under-test.ts';

/** Debian packages kickstand needs on the host for this run (pxelinux for TFTP, isolinux and xorriso for buildiso). */
export const KICKSTAND_PACKAGES = ['pxelinux', 'syslinux-common', 'isolinux', 'xorriso'];
/** What kickstand serves UEFI guests from: iPXE (ipxe.efi for HTTP Boot) and the Secure Boot chain (shim, signed GRUB). */
export const KICKSTAND_UEFI_PACKAGES = ['ipxe', 'shim-signed', 'grub-efi-amd64-signed'];
/** Name of the guest in kickstand's store. */
export const SYSTEM_NAME = 'e2e-guest';
export const PROFILE_NAME = 'e2e';
/** The UEFI guest's profile: firmware uefi, one SATA disk with a GPT (ESP, root, swap). */
export const UEFI_PROFILE_NAME = 'e2e-uefi';
/** Size of the UEFI guest's disk and of its partitions (MiB). */
export const UEFI_DISK = { diskMib: 1024, espMib: 64, rootMib: 768 } as const;
const HTTP_PORT = 8080;
/** How long `kickstand serve` may take to start every listener. */
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 5_000;

/** Returns the profile YAML files (as JSON, which YAML reads) for the test ISO's distro and the guest. */
export function kickstandProfiles(profile: E2eProfile): Record<string, unknown> {
  return {
    'distro.yaml': {
      kind: 'distro',
      name: TREE_INFO.family,
      family: 'el5',
      arch: TREE_INFO.arch,
      iso: 'kickstand-e2e.iso',
      kernel: TREE_PATHS.kernel,
      initrd: TREE_PATHS.initrd,
      installer: 'script',
      description: 'e2e test ISO: Debian kernel, busybox installer, stock payload for the install script',
    },
    'profile.yaml': {
      kind: 'profile',
      name: PROFILE_NAME,
      distro: TREE_INFO.family,
      alignment: 'chs',
      disks: {
        hda: { size_mib: profile.hdaMib, partitions: [{ role: 'root', fstype: 'ext3', mount: '/', label: profile.rootLabel }] },
        hdb: { size_mib: profile.hdbMib, partitions: [{ role: 'swap', label: profile.swapLabel }] },
      },
      serial: { device: 'ttyS0', speed: 115200, root_login: true },
      kernel_args: profile.kernelArgs.split(' ').filter((a) => !a.startsWith('console=')),
    },
    'profile-uefi.yaml': {
      kind: 'profile',
      name: UEFI_PROFILE_NAME,
      distro: TREE_INFO.family,
      firmware: 'uefi',
      esp_mib: UEFI_DISK.espMib,
      alignment: '1MiB',
      disks: {
        sda: {
          size_mib: UEFI_DISK.diskMib,
          partitions: [
            { role: 'root', fstype: 'ext3', mount: '/', label: profile.rootLabel, size_mib: UEFI_DISK.rootMib },
            { role: 'swap', label: profile.swapLabel },
          ],
        },
      },
      serial: { device: 'ttyS0', speed: 115200, root_login: true },
      kernel_args: profile.kernelArgs.split(' ').filter((a) => !a.startsWith('console=')),
    },
  };
}

/** How the lab's kickstand is set up beyond the defaults. */
export interface KickstandOptions {
  /** Profile the guest is registered with (default e2e). */
  profile?: string;
  /** Settings merged over the lab's kickstand.yaml, one level deep (dhcp, tftp…). */
  config?: Record<string, Record<string, unknown>>;
}

/** A kickstand the test can restart with other settings (same store, ISO and guest). */
export interface KickstandUnderTest extends ServerUnderTest {
  /** Stops kickstand, merges settings over its configuration, and starts it again. */
  reconfigure(config: Record<string, Record<string, unknown>>): Promise<void>;
  /** kickstand's log file. */
  logFile: string;
}

/** Returns base with each section of patch merged over the same section (one level deep). */
function mergeConfig(base: Record<string, unknown>, patch: Record<string, Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) out[k] = { ...(base[k] as Record<string, unknown> | undefined), ...v };
  return out;
}

/**
 * Returns this process's environment without the test's own KICKSTAND_E2E_* variables: kickstand
 * reads KICKSTAND_* as configuration overrides and refuses keys it does not know.
 */
function kickstandEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KICKSTAND_E2E_')));
}

/** Runs the kickstand CLI (host namespace; it opens the store file directly) and returns stdout. */
function cli(config: string, args: string[]): string {
  return execFileSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'server/cli/main.ts'), ...args, '--config', config], {
    cwd: REPO_ROOT,
    env: kickstandEnv(),
    encoding: 'utf8',
    timeout: 60_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Starts `kickstand serve` in the lab's namespace, registers the guest; returns the server the test drives. */
export async function startKickstand(lab: Lab, guest: GuestArtifacts, profile: E2eProfile, options: KickstandOptions = {}): Promise<KickstandUnderTest> {
  const dir = join(lab.dir, 'kickstand');
  for (const d of ['profiles', 'isos', 'var']) mkdirSync(join(dir, d), { recursive: true });
  const iso = join(dir, 'isos/kickstand-e2e.iso');
  copyFileSync(guest.iso, iso);
  // The ISO catalog takes a file once its mtime is older than its settle interval: a fresh copy
  // would wait that long (30 s) before its tree is served.
  const past = new Date(Date.now() - 3_600_000);
  utimesSync(iso, past, past);
  for (const [file, body] of Object.entries(kickstandProfiles(profile))) {
    writeFileSync(join(dir, 'profiles', file), JSON.stringify(body, null, 2) + '\n');
  }
  const net = lab.serverIp.split('.').slice(0, 3).join('.');
  const config = join(dir, 'kickstand.yaml');
  let settings: Record<string, unknown> = {
    data_dir: join(dir, 'var'),
    profiles_dir: join(dir, 'profiles'),
    isos_dir: join(dir, 'isos'),
    templates_dir: join(REPO_ROOT, 'templates'),
    public_url: `http://${lab.serverIp}:${HTTP_PORT}`,
    log_level: 'debug',
    http: { host: lab.serverIp, port: HTTP_PORT },
    tftp: { enabled: true, host: '0.0.0.0', port: 69 },
    dhcp: {
      mode: 'full',
      interface: lab.bridge,
      server_ip: lab.serverIp,
      subnet: {
        network: `${net}.0`,
        mask: '255.255.255.0',
        router: lab.serverIp,
        pool_start: `${net}.100`,
        pool_end: `${net}.199`,
      },
    },
    auth: { admin_token: randomBytes(16).toString('hex') },
  };
  settings = mergeConfig(settings, options.config ?? {});

  const logFile = join(dir, 'kickstand.log');
  let child: ChildProcess | undefined;
  /** Writes the configuration and starts `kickstand serve`, resolving once every listener is up. */
  const start = async (): Promise<void> => {
    writeFileSync(config, JSON.stringify(settings, null, 2) + '\n');
    // A restart appends to the same log: only what this process writes counts.
    const from = existsSync(logFile) ? readFileSync(logFile, 'utf8').length : 0;
    const out = openSync(logFile, 'a');
    child = lab.ns.spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'server/cli/main.ts'), 'serve', '--config', config], {
      cwd: REPO_ROOT,
      env: kickstandEnv(),
      stdio: ['ignore', out, out],
    });
    closeSync(out);
    await waitForListeners(child, logFile, settings, from);
  };
  const stop = async (): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    killPid(c, 'SIGTERM');
    const timer = setTimeout(() => killPid(c), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };
  try {
    await start();
    cli(config, ['system', 'add', SYSTEM_NAME, '--mac', lab.mac, '--profile', options.profile ?? PROFILE_NAME]);
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    kind: 'kickstand',
    logFile,
    async reconfigure(patch) {
      await stop();
      settings = mergeConfig(settings, patch);
      await start();
    },
    async armInstall() {
      cli(config, ['system', 'rebuild', SYSTEM_NAME]);
    },
    async bootIso() {
      const iso = join(dir, `boot-${Date.now()}.iso`);
      cli(config, ['buildiso', '--system', SYSTEM_NAME, '-o', iso, '--base', `http://${lab.serverIp}:${HTTP_PORT}`]);
      return iso;
    },
    async events() {
      const timeline = JSON.parse(cli(config, ['system', 'events', SYSTEM_NAME, '--json'])) as Array<{
        stage: string;
        message?: string | null;
        time: number | string;
      }>;
      return timeline.map((e): RecordedEvent => ({ stage: e.stage, query: e.message ?? '', time: String(e.time) }));
    },
    logFiles() {
      return { 'kickstand.log': logFile, 'kickstand.yaml': config };
    },
    stop,
  };
}

/** Resolves once kickstand logged that HTTP, TFTP and DHCP listen (as configured) and the test ISO is catalogued; rejects if it exits or takes too long. */
async function waitForListeners(child: ChildProcess, logFile: string, settings: Record<string, unknown>, from: number): Promise<void> {
  const tftp = (settings.tftp as { enabled?: boolean } | undefined)?.enabled !== false;
  const mode = (settings.dhcp as { mode?: string } | undefined)?.mode ?? 'full';
  const wanted = [/HTTP listening/, ...(tftp ? [/tftp listening/] : []), new RegExp(`DHCP \\(${mode}\\) listening`), /isos: image added/];
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const text = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(from) : '';
    if (wanted.every((re) => re.test(text))) return;
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      const why = child.exitCode !== null ? `exited with ${child.exitCode}` : `not listening after ${START_TIMEOUT_MS} ms`;
      throw new Error(`kickstand serve ${why}:\n${text.split('\n').slice(-30).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
