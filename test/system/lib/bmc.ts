// A simulated BMC for power tests: OpenIPMI's ipmi_sim on 127.0.0.1 (a free UDP port) speaking
// IPMI 2.0 lanplus, with its chassis commands (power get/set, reset, boot device) handed to a
// chassis-control program the test provides (ipmi_sim's `chassis_control` hook).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian packages the simulated BMC and the driver need. */
export const BMC_PACKAGES = ['openipmi', 'ipmitool'];
export const BMC_USER = 'admin';
/** How long ipmi_sim may take to answer its first chassis status. */
const START_TIMEOUT_MS = 20_000;

/** A running simulated BMC. */
export interface Bmc {
  port: number;
  password: string;
  dir: string;
  /** Runs ipmitool against the BMC (as an operator would) and returns its output and status. */
  ipmitool(args: string[], password?: string): { code: number | null; out: string; err: string };
  stop(): void;
}

/** Returns a UDP port on 127.0.0.1 that was free a moment ago. */
export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Starts ipmi_sim with chassis control by `chassisControl` (an executable taking `<dev> get|set …`). */
export async function startBmc(o: { chassisControl: string; password: string }): Promise<Bmc> {
  const dir = mkdtempSync(join(tmpdir(), 'ks-bmc-'));
  mkdirSync(join(dir, 'state'));
  const port = await freeUdpPort();
  const auths = 'none md2 md5 straight';
  writeFileSync(
    join(dir, 'lan.conf'),
    [
      'name "kickstand-test"',
      'set_working_mc 0x20',
      '  startlan 1',
      `    addr 127.0.0.1 ${port}`,
      '    priv_limit admin',
      ...['callback', 'user', 'operator', 'admin'].map((p) => `    allowed_auths_${p} ${auths}`),
      '    guid a1b2c3d4e5f60718293a4b5c6d7e8f90',
      '  endlan',
      `  chassis_control "${o.chassisControl} 0x20"`,
      `  user 2 true "${BMC_USER}" "${o.password}" admin 10 ${auths}`,
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'bmc.emu'), 'mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\nsel_enable 0x20 1000 0x0a\nmc_enable 0x20\n');
  const child: ChildProcess = spawn('ipmi_sim', ['-c', join(dir, 'lan.conf'), '-f', join(dir, 'bmc.emu'), '-s', join(dir, 'state'), '-n'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const ipmitool = (args: string[], password = o.password) => {
    const r = spawnSync('ipmitool', ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', BMC_USER, '-E', '-N', '1', '-R', '2', ...args], {
      encoding: 'utf8',
      env: { ...process.env, IPMI_PASSWORD: password },
      timeout: 30_000,
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const stop = () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) {
      stop();
      throw new Error(`ipmi_sim exited with ${child.exitCode}: ${stderr}`);
    }
    if (ipmitool(['chassis', 'power', 'status']).code === 0) break;
    if (Date.now() > deadline) {
      stop();
      throw new Error(`ipmi_sim did not answer on 127.0.0.1:${port} within ${START_TIMEOUT_MS} ms: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { port, password: o.password, dir, ipmitool, stop };
}

/** Writes an executable shell script (test fixtures only; product code never runs a shell). */
export function writeScript(path: string, text: string): string {
  writeFileSync(path, text);
  chmodSync(path, 0o755);
  return path;
}

/**
 * Writes a chassis-control program that keeps power and the boot device in files under stateDir
 * and logs every call: enough to prove what the BMC was told without a machine behind it.
 */
export function fileChassis(stateDir: string): string {
  mkdirSync(stateDir, { recursive: true });
  return writeScript(
    join(stateDir, 'chassis'),
    `#!/bin/sh
# ipmi_sim chassis control: <dev> get|set [param [value]]…; state in files beside this script.
d=$(dirname "$0")
echo "$*" >> "$d/calls.log"
dev=$1; op=$2; shift 2
case $op in
get) for p in "$@"; do case $p in
       power) echo "power:$(cat "$d/power" 2>/dev/null || echo 0)";;
       boot) echo "boot:$(cat "$d/boot" 2>/dev/null || echo default)";;
     esac; done;;
set) while [ $# -gt 1 ]; do case $1 in
       power) echo "$2" > "$d/power";;
       boot) echo "$2" > "$d/boot";;
       reset) :;;
     esac; shift 2; done;;
esac
`,
  );
}
