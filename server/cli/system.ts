// `kickstand system …`: register, list, show, remove, rebuild, disarm and show the timeline.
import { BadRequestError, NotFoundError } from '../errors.ts';
import { newSystemSchema, parseBody, systemSlug, type NewSystemInput } from '../profiles/system-input.ts';
import { timeline } from '../boot/lifecycle.ts';
import type { CliContext } from './context.ts';
import { parse, UsageError } from './usage.ts';
import { powerCommand, rebuildCommand } from './power.ts';

const fmtTime = (t: number | null) => (t === null ? '-' : new Date(t).toISOString().replace('.000Z', 'Z'));
const fmtDur = (ms: number | null) => (ms === null ? '' : ms < 1000 ? `+${ms}ms` : `+${(ms / 1000).toFixed(1)}s`);

/** Runs a `system` subcommand, writing to out; returns the exit code. */
export async function systemCommand(ctx: CliContext, args: string[], out: (s: string) => void): Promise<number> {
  const [sub, ...rest] = args;
  const { lifecycle, store, registry } = ctx;
  const need = (positionals: string[]) => {
    if (positionals.length !== 1) throw new UsageError(`system ${sub} takes one NAME`);
    return positionals[0]!;
  };
  const get = async (name: string) => {
    const s = await store.getSystem(name);
    if (!s) throw new NotFoundError(`no system named ${JSON.stringify(name)}`);
    return s;
  };
  switch (sub) {
    case 'add': {
      const a = parse(rest, {
        mac: { type: 'string', multiple: true },
        profile: { type: 'string' },
        ip: { type: 'string' },
        hostname: { type: 'string' },
        override: { type: 'string' },
        build: { type: 'boolean' },
      });
      const name = need(a.positionals);
      let overrides: unknown = undefined;
      if (a.values.override !== undefined) {
        try {
          overrides = JSON.parse(a.values.override);
        } catch {
          throw new UsageError('--override must be a JSON object, e.g. {"xen":{"vcpus":4}}');
        }
      }
      const body = parseBody<NewSystemInput>(newSystemSchema, {
        name,
        macs: a.values.mac ?? [],
        profile: a.values.profile,
        ...(a.values.ip ? { ip: a.values.ip } : {}),
        ...(a.values.hostname ? { hostname: a.values.hostname } : {}),
        ...(overrides !== undefined ? { overrides } : {}),
      });
      if (!registry.profile(body.profile)) throw new BadRequestError(`profile: no profile named ${JSON.stringify(body.profile)}`, 'profile');
      registry.resolve(body.profile, body.overrides ?? {}, 'overrides');
      let s = await store.createSystem(body, lifecycle.now());
      if (a.values.build) s = await lifecycle.arm(s.name, null, 'armed at registration');
      out(`added ${s.name}${s.displayName ? ` (display name ${s.displayName})` : ''} (${s.macs.join(', ')}) profile ${s.profile}${s.build ? ', armed' : ''}\n`);
      return 0;
    }
    case 'set': {
      const a = parse(rest, {
        profile: { type: 'string' },
        name: { type: 'string' },
        mac: { type: 'string', multiple: true },
        ip: { type: 'string' },
        hostname: { type: 'string' },
        override: { type: 'string' },
      });
      const name = systemSlug(need(a.positionals));
      const change: Record<string, unknown> = {};
      for (const k of ['profile', 'name', 'ip', 'hostname'] as const) if (a.values[k] !== undefined) change[k] = a.values[k];
      if (a.values.mac) change.macs = a.values.mac;
      if (a.values.override !== undefined) {
        try {
          change.overrides = JSON.parse(a.values.override);
        } catch {
          throw new UsageError('--override must be a JSON object, e.g. {"xen":{"vcpus":4}}');
        }
      }
      if (Object.keys(change).length === 0) throw new UsageError('system set needs something to change: --profile, --name, --mac, --ip, --hostname or --override');
      const before = await get(name);
      const { editSystem } = await import('../boot/system-edit.ts');
      const s = await editSystem(lifecycle, registry, name, change);
      const registered = before.state === 'discovered' && s.state === 'registered';
      out(`${s.name}${s.name !== name ? ` (was ${name})` : ''}: ${registered ? 'registered' : 'updated'}, profile ${s.profile ?? '-'}${registered ? '; `kickstand system rebuild` arms its install' : ''}\n`);
      return 0;
    }
    case 'import': {
      const file = need(parse(rest, {}).positionals);
      const { importSystems } = await import('./system-import.ts');
      const done = await importSystems(ctx, file);
      out(`imported ${done.length} systems from ${file}${done.some((s) => s.build) ? ` (${done.filter((s) => s.build).length} armed)` : ''}\n`);
      return 0;
    }
    case 'list': {
      const a = parse(rest, { json: { type: 'boolean' } }, false);
      const all = await store.listSystems();
      if (a.values.json) {
        out(`${JSON.stringify(all.map((s) => ({ ...s, token: undefined, state: lifecycle.displayState(s) })), null, 2)}\n`);
        return 0;
      }
      out(`${'NAME'.padEnd(24)} ${'STATE'.padEnd(12)} ${'STAGE'.padEnd(22)} ${'PROFILE'.padEnd(18)} MACS\n`);
      for (const s of all) out(`${s.name.padEnd(24)} ${lifecycle.displayState(s).padEnd(12)} ${(s.stage ?? '-').padEnd(22)} ${(s.profile ?? '-').padEnd(18)} ${s.macs.join(',')}\n`);
      return 0;
    }
    case 'show': {
      const a = parse(rest, { json: { type: 'boolean' } });
      const s = await get(systemSlug(need(a.positionals)));
      const view = { ...s, token: undefined, state: lifecycle.displayState(s), createdAt: fmtTime(s.createdAt), updatedAt: fmtTime(s.updatedAt) };
      out(`${JSON.stringify(view, null, 2)}\n`);
      return 0;
    }
    case 'rm': {
      const name = systemSlug(need(parse(rest, {}).positionals));
      if (!(await store.deleteSystem(name))) throw new NotFoundError(`no system named ${JSON.stringify(name)}`);
      out(`removed ${name}\n`);
      return 0;
    }
    case 'rebuild':
      return rebuildCommand(ctx, rest, out);
    case 'power':
      return powerCommand(ctx, rest, out);
    case 'disarm': {
      const s = await lifecycle.disarm(systemSlug(need(parse(rest, {}).positionals)), null);
      out(`${s.name}: ${s.state}\n`);
      return 0;
    }
    case 'events': {
      const a = parse(rest, { run: { type: 'string' }, json: { type: 'boolean' } });
      const s = await get(systemSlug(need(a.positionals)));
      const run = a.values.run === undefined ? undefined : Number(a.values.run);
      if (run !== undefined && !Number.isInteger(run)) throw new UsageError('--run takes an integer');
      const events = timeline(await store.listEvents(s.name, { run }));
      if (a.values.json) {
        out(`${JSON.stringify(events, null, 2)}\n`);
        return 0;
      }
      for (const e of events) out(`run ${e.run}  ${fmtTime(e.time)}  ${fmtDur(e.sincePreviousMs).padStart(8)}  ${e.stage.padEnd(22)} ${e.message ?? ''}${e.source ? ` (${e.source})` : ''}\n`);
      return 0;
    }
    default:
      throw new UsageError(sub ? `unknown system command ${JSON.stringify(sub)}` : 'system needs a command: add, import, set, list, show, rm, rebuild, disarm, events, power');
  }
}
