// `kickstand iso list|inspect FILE` and `kickstand buildiso --system NAME -o FILE`.
import { basename } from 'node:path';
import { silentLogger } from '../log.ts';
import { IsoCatalog } from '../isos/catalog.ts';
import { inspectIsoFile } from '../isos/inspect.ts';
import { buildBootIso } from './buildiso.ts';
import { describeShadowed, shadowedIsos } from '../boot/distro-media.ts';
import type { CliContext } from './context.ts';
import { parse, UsageError } from './usage.ts';
import { systemSlug } from '../profiles/system-input.ts';

/** Runs `iso list` (ctx given) or `iso inspect FILE` (no context needed). */
export async function isoCommand(ctx: CliContext | null, args: string[], out: (s: string) => void): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'inspect') {
    const a = parse(rest, { json: { type: 'boolean' } });
    if (a.positionals.length !== 1) throw new UsageError('iso inspect takes one FILE');
    const r = await inspectIsoFile(a.positionals[0]!);
    if (a.values.json) {
      out(`${JSON.stringify(r, null, 2)}\n`);
      return r.error || r.distro?.source === 'none' ? 1 : 0;
    }
    out(`file:     ${r.path}\n`);
    if (r.error) {
      out(`error:    ${r.error}\n`);
      return 1;
    }
    const d = r.distro!;
    out(`volume:   ${r.volume!.volumeId}\n`);
    out(`distro:   ${d.source === 'none' ? '(none detected)' : `${d.name} (family ${d.family}, ${d.product} ${d.version} ${d.arch})`}\n`);
    out(`kernel:   ${d.kernel ?? '-'}\ninitrd:   ${d.initrd ?? '-'}\nbootable: ${r.boot ? 'yes (El Torito)' : 'no'}\n`);
    out(`why:\n${d.reasons.map((x) => `  - ${x}`).join('\n')}\n`);
    return d.source === 'none' ? 1 : 0;
  }
  if (sub === 'list') {
    parse(rest, {}, false);
    const catalog = new IsoCatalog({ dir: ctx!.config.isos_dir, log: silentLogger(), settleMs: 0 });
    try {
      await catalog.scan();
      const servedAs = new Map(shadowedIsos(catalog.list(), ctx!.registry.yamlDistros()).map((s) => [s.file, s.servedAs]));
      for (const e of catalog.list()) out(`${(servedAs.get(e.fileName) ?? e.name).padEnd(28)} ${e.distro.family.padEnd(8)} ${e.fileName}\n`);
      for (const s of catalog.skipped()) out(`${'(skipped)'.padEnd(28)} ${''.padEnd(8)} ${basename(s.isoPath)}: ${s.reason}\n`);
      for (const s of shadowedIsos(catalog.list(), ctx!.registry.yamlDistros())) process.stderr.write(`kickstand: warning: ${describeShadowed(s)}\n`);
      if (catalog.list().length === 0 && catalog.skipped().length === 0) out(`no ISO images in ${ctx!.config.isos_dir}\n`);
    } finally {
      await catalog.close();
    }
    return 0;
  }
  throw new UsageError(sub ? `unknown iso command ${JSON.stringify(sub)}` : 'iso needs a command: list, inspect FILE');
}

/** Runs `buildiso --system NAME -o FILE [--base URL]`. */
export async function buildisoCommand(ctx: CliContext, args: string[], out: (s: string) => void): Promise<number> {
  const a = parse(args, { system: { type: 'string' }, output: { type: 'string', short: 'o' }, base: { type: 'string' } }, false);
  if (!a.values.system || !a.values.output) throw new UsageError('buildiso needs --system NAME and -o FILE');
  const base = (a.values.base ?? ctx.config.public_url ?? `http://localhost:${ctx.config.http.port}`).replace(/\/+$/, '');
  const r = await buildBootIso(ctx, { system: systemSlug(a.values.system), output: a.values.output, base });
  out(`wrote ${r.output} (${r.bytes} bytes): ${r.label}\n`);
  return 0;
}
