// `kickstand system power NAME status|on|off|cycle|show|set|clear` and `kickstand system rebuild
// NAME… --reboot`: power control from the command line, on the same store as a running server.
// Secrets come from a file or stdin, never from the command line (ps would show them).
import { readFileSync } from 'node:fs';
import { silentLogger } from '../log.ts';
import { Artifacts } from '../boot/artifacts.ts';
import { loadArtifactRenderer } from '../boot/renderer.ts';
import { openPowerControl } from '../boot/power-part.ts';
import type { PowerControl } from '../boot/power-control.ts';

import { POWER_ACTIONS, type PowerAction } from '../power/types.ts';
import type { CliContext } from './context.ts';
import { parse, UsageError } from './usage.ts';
import { systemSlug } from '../profiles/system-input.ts';

/** Returns power control over the CLI's store and profiles (xl configs rendered on first use). */
export function cliPower(ctx: CliContext): PowerControl {
  let artifacts: Promise<Artifacts> | null = null;
  return openPowerControl({
    config: ctx.config,
    lifecycle: ctx.lifecycle,
    registry: ctx.registry,
    // The command prints the error itself; the event lands in the timeline.
    log: silentLogger(),
    artifacts: () => (artifacts ??= loadArtifactRenderer(ctx.config.templates_dir, ctx.log).then((r) => new Artifacts(ctx.registry, r))),
  });
}

/** Reads a secret from a file or stdin (one line; the trailing newline dropped). */
function readSecret(file: string): string {
  const text = readFileSync(file === '-' ? 0 : file, 'utf8');
  return text.replace(/\r?\n$/, '');
}

/** Runs `system power NAME ACTION …`; returns the exit code. */
export async function powerCommand(ctx: CliContext, args: string[], out: (s: string) => void): Promise<number> {
  const a = parse(args, {
    json: { type: 'boolean' },
    driver: { type: 'string' },
    address: { type: 'string' },
    user: { type: 'string' },
    'secret-file': { type: 'string' },
    'secret-stdin': { type: 'boolean' },
    'clear-secret': { type: 'boolean' },
    port: { type: 'string' },
    domain: { type: 'string' },
    uefi: { type: 'boolean' },
    boot: { type: 'string' },
    'config-dir': { type: 'string' },
  });
  const [given, action, ...extra] = a.positionals;
  const name = given === undefined ? undefined : systemSlug(given);
  if (!name || !action || extra.length > 0) throw new UsageError('system power takes NAME and one of status, on, off, cycle, show, set, clear');
  const power = cliPower(ctx);
  const v = a.values;
  switch (action) {
    case 'show':
      out(`${JSON.stringify(await power.view(name), null, 2)}\n`);
      return 0;
    case 'clear':
      out((await power.clearSettings(name)) ? `${name}: power settings removed\n` : `${name}: had no power settings of its own\n`);
      return 0;
    case 'set': {
      if (v['secret-file'] !== undefined && v['secret-stdin']) throw new UsageError('give the secret with --secret-file or --secret-stdin, not both');
      const body: Record<string, unknown> = {};
      if (v.driver !== undefined) body.driver = v.driver;
      if (v.address !== undefined) body.address = v.address;
      if (v.user !== undefined) body.user = v.user;
      if (v.domain !== undefined) body.domain = v.domain;
      if (v.boot !== undefined) body.boot = v.boot;
      if (v['config-dir'] !== undefined) body.config_dir = v['config-dir'];
      if (v.uefi !== undefined) body.uefi = v.uefi;
      if (v.port !== undefined) {
        if (!/^\d{1,5}$/.test(v.port)) throw new UsageError('--port takes a number');
        body.port = Number(v.port);
      }
      if (v['secret-file'] !== undefined) body.secret = readSecret(v['secret-file']);
      else if (v['secret-stdin']) body.secret = readSecret('-');
      else if (v['clear-secret']) body.secret = null;
      await power.setSettings(name, body);
      const view = await power.view(name);
      out(`${name}: power ${view.effective.driver ?? 'none'} ${view.effective.address ?? 'local'}${view.effective.secretSet ? ', secret set' : ''}\n`);
      return 0;
    }
    default: {
      if (!(POWER_ACTIONS as readonly string[]).includes(action)) throw new UsageError(`unknown power action ${JSON.stringify(action)} (status, on, off, cycle, show, set, clear)`);
      const state = await power.act(name, action as PowerAction, null);
      out(v.json ? `${JSON.stringify({ system: name, action, state })}\n` : `${name}: ${action === 'status' ? '' : `${action} done, `}power is ${state}\n`);
      return 0;
    }
  }
}

/** Runs `system rebuild NAME… [--reboot] [--parallel N]`; several names are a bulk rebuild. Returns 1 when any failed. */
export async function rebuildCommand(ctx: CliContext, args: string[], out: (s: string) => void, err: (s: string) => void = (s) => void process.stderr.write(s)): Promise<number> {
  const a = parse(args, { reboot: { type: 'boolean' }, parallel: { type: 'string' } });
  const names = a.positionals;
  if (names.length === 0) throw new UsageError('system rebuild takes one or more NAMEs');
  if (new Set(names).size !== names.length) throw new UsageError('system rebuild: a NAME is given twice');
  let concurrency: number | undefined;
  if (a.values.parallel !== undefined) {
    if (!/^\d{1,2}$/.test(a.values.parallel) || Number(a.values.parallel) < 1) throw new UsageError('--parallel takes a number from 1 to 99');
    concurrency = Number(a.values.parallel);
  }
  const reboot = a.values.reboot === true;
  const power = cliPower(ctx);
  if (names.length === 1) {
    const s = await power.rebuild(names[0]!, { reboot, source: null, reason: reboot ? 'rebuild with reboot requested (cli)' : 'rebuild requested (cli)' });
    out(`${s.name}: armed, run ${s.run}; ${reboot ? 'next boot set and power-cycled' : 'the next network boot installs'}\n`);
    return 0;
  }
  const results = await power.rebuildMany(names, { reboot, source: null, reason: reboot ? 'bulk rebuild with reboot (cli)' : 'bulk rebuild (cli)', concurrency });
  let failed = 0;
  for (const r of results) {
    if (r.ok) out(`${r.system}: armed, run ${r.run}${reboot ? '; power-cycled' : ''}\n`);
    else {
      failed++;
      err(`kickstand: ${r.system}: ${r.error?.message ?? 'failed'}${r.run !== null && reboot && r.error?.code === 'power_failed' ? ' (the install stays armed)' : ''}\n`);
    }
  }
  return failed > 0 ? 1 : 0;
}

