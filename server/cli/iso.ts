// `kickstand iso list|inspect FILE` and `kickstand buildiso --system NAME -o FILE`.
import { basename } from 'node:path';
import { silentLogger } from '../log.ts';
import { fileSource } from '../byte-source.ts';
import { IsoCatalog } from '../isos/catalog.ts';
import { detectDistro } from '../isos/detect.ts';
import { openIso } from '../isos/reader.ts';
import { NotFoundError } from '../errors.ts';
import { buildBootIso } from '../boot/buildiso.ts';
import type { CliContext } from './context.ts';
import { parse, UsageError } from './usage.ts';

/** Runs `iso list` (ctx given) or `iso inspect FILE` (no context needed). */
export async function isoCommand(ctx: CliContext | null, args: string[], out: (s: string) => void): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'inspect') {
    const a = parse(rest, { json: { type: 'boolean' } });
    if (a.positionals.length !== 1) throw new UsageError('iso inspect takes one FILE');
    const file = a.positionals[0]!;
    const src = await fileSource(file).catch((err: Error) => {
      throw new NotFoundError(`cannot open ${file}: ${err.message}`);
    });
    try {
      const reader = await openIso(src);
      const distro = await detectDistro(reader, { volumeId: reader.volume.volumeId, fileName: basename(file) });
      const boot = await reader.bootCatalog().catch(() => null);
      if (a.values.json) {
        out(`${JSON.stringify({ file, volume: reader.volume, distro, boot }, null, 2)}\n`);
        return 0;
      }
      out(`file:     ${file}\nvolume:   ${reader.volume.volumeId}\n`);
      out(`distro:   ${distro.source === 'none' ? '(none detected)' : `${distro.name} (family ${distro.family}, ${distro.product} ${distro.version} ${distro.arch})`}\n`);
      out(`kernel:   ${distro.kernel ?? '-'}\ninitrd:   ${distro.initrd ?? '-'}\nbootable: ${boot ? 'yes (El Torito)' : 'no'}\n`);
      out(`why:\n${distro.reasons.map((r) => `  - ${r}`).join('\n')}\n`);
      return distro.source === 'none' ? 1 : 0;
    } finally {
      await src.close?.();
    }
  }
  if (sub === 'list') {
    parse(rest, {}, false);
    const catalog = new IsoCatalog({ dir: ctx!.config.isos_dir, log: silentLogger(), settleMs: 0 });
    try {
      await catalog.scan();
      for (const e of catalog.list()) out(`${e.name.padEnd(28)} ${e.distro.family.padEnd(8)} ${e.fileName}\n`);
      for (const s of catalog.skipped()) out(`${'(skipped)'.padEnd(28)} ${''.padEnd(8)} ${basename(s.isoPath)}: ${s.reason}\n`);
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
  const r = await buildBootIso(ctx, { system: a.values.system, output: a.values.output, base });
  out(`wrote ${r.output} (${r.bytes} bytes): ${r.label}\n`);
  return 0;
}
