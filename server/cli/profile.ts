// `kickstand profile list|show` and `kickstand render <kind> --system NAME`.
import { NotFoundError } from '../errors.ts';
import { Artifacts, ARTIFACT_KINDS, isArtifactKind } from '../boot/artifacts.ts';
import { maskProfile } from '../profiles/registry.ts';
import { systemSlug } from '../profiles/system-input.ts';
import type { CliContext } from './context.ts';
import { parse, UsageError } from './usage.ts';

/** Runs a `profile` subcommand; returns the exit code. */
export async function profileCommand(ctx: CliContext, args: string[], out: (s: string) => void): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'list') {
    parse(rest, {}, false);
    for (const p of ctx.registry.profiles()) out(`${p.name.padEnd(24)} ${p.distro.padEnd(20)} ${p.description ?? ''}\n`);
    return 0;
  }
  if (sub === 'show') {
    const a = parse(rest, {});
    if (a.positionals.length !== 1) throw new UsageError('profile show takes one NAME');
    out(`${JSON.stringify(maskProfile(ctx.registry.requireProfile(a.positionals[0]!)), null, 2)}\n`);
    return 0;
  }
  throw new UsageError(sub ? `unknown profile command ${JSON.stringify(sub)}` : 'profile needs a command: list, show');
}

/** Runs `render <kind> --system NAME [--base URL]`; prints the artifact. */
export async function renderCommand(ctx: CliContext, args: string[], out: (s: string) => void): Promise<number> {
  const a = parse(args, { system: { type: 'string' }, base: { type: 'string' } });
  const kind = a.positionals[0];
  if (a.positionals.length !== 1 || !kind) throw new UsageError(`render takes one kind (${ARTIFACT_KINDS.join(', ')})`);
  if (!isArtifactKind(kind)) throw new UsageError(`unknown artifact kind ${JSON.stringify(kind)} (${ARTIFACT_KINDS.join(', ')})`);
  if (!a.values.system) throw new UsageError('render needs --system NAME');
  const system = await ctx.store.getSystem(systemSlug(a.values.system));
  if (!system) throw new NotFoundError(`no system named ${JSON.stringify(a.values.system)}`);
  const base = a.values.base ?? ctx.config.public_url ?? `http://localhost:${ctx.config.http.port}`;
  // The template engine loads only for this command, not for `profile list`.
  const { loadArtifactRenderer } = await import('../boot/renderer.ts');
  const artifacts = new Artifacts(ctx.registry, await loadArtifactRenderer(ctx.config.templates_dir, ctx.log, { subnet: ctx.config.dhcp.subnet }));
  out(artifacts.render(kind, system, base.replace(/\/+$/, '')));
  return 0;
}
