// What the power e2e boots share: the kickstand CLI run as an operator would (beside the server in
// the lab), waiting for a guest's events, and QEMU arguments for a machine that is powered by
// someone else (a BMC, libvirt) rather than booted once by the harness.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './build/artifacts.ts';
import type { Lab } from './harness.ts';
import type { RecordedEvent, ServerUnderTest } from './server-under-test.ts';

/** Runs the kickstand CLI on the lab server's config (host namespace, as the operator's shell); never throws. */
export function ksCli(server: ServerUnderTest, args: string[], input?: string): { code: number | null; out: string; err: string } {
  const config = server.logFiles()['kickstand.yaml']!;
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KICKSTAND_E2E_')));
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'server/cli/main.ts'), ...args, '--config', config], {
    cwd: REPO_ROOT,
    env,
    encoding: 'utf8',
    input,
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Resolves with the events after `from` once one has stage `stage` (or `failed`); rejects after timeoutMs with what was seen. */
export async function waitForStage(server: ServerUnderTest, from: number, stage: string, timeoutMs: number, why: () => string = () => ''): Promise<RecordedEvent[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // A CLI call that times out on a loaded machine is asked again, until the deadline.
    const events = (await server.events().catch(() => [] as RecordedEvent[])).slice(from);
    if (events.some((e) => e.stage === stage || e.stage === 'failed')) return events;
    if (Date.now() > deadline) throw new Error(`no ${stage} within ${timeoutMs / 1000} s; events: ${events.map((e) => e.stage).join(', ')}\n${why()}`);
    await new Promise((r) => setTimeout(r, 3000));
  }
}

/** Resolves once test() is true; rejects after timeoutMs. */
export async function waitUntil(what: string, test: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Returns QEMU arguments for the lab's guest as a machine that stays on: no -no-reboot (a disk
 * without boot code retries, as a broken machine does), the serial console appended to one file
 * across power-ons, and no -boot (the caller adds its own).
 */
export function poweredMachineArgs(lab: Lab, serialLog: string): string[] {
  const args = lab.qemuArgs({ from: 'pxe', extraArgs: ['-chardev', `file,id=ser0,path=${serialLog},append=on`] }, 'chardev:ser0');
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '-no-reboot') continue;
    if (args[i] === '-boot') {
      i++;
      continue;
    }
    out.push(args[i]!);
  }
  return out;
}
