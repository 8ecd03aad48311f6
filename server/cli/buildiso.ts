// `kickstand buildiso`: a small El Torito boot ISO for the notes' CD route (attach as hdc:cdrom,
// boot="dca"): isolinux, the distro's kernel and initrd read from its ISO, and a menu with the
// system's kickstart URL baked in. Built with xorriso (a runtime dependency, Debian package).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ConflictError, KickstandError, NotFoundError } from '../errors.ts';
import { IsoCatalog } from '../isos/catalog.ts';
import { Artifacts } from '../boot/artifacts.ts';
import { catalogDistros, DistroMedia } from '../boot/distro-media.ts';
import { loadArtifactRenderer } from '../boot/renderer.ts';
import type { CliContext } from './context.ts';

/** Where Debian puts isolinux.bin and the BIOS modules isolinux needs. */
export const ISOLINUX_FILES = {
  'isolinux.bin': ['/usr/lib/ISOLINUX/isolinux.bin', '/usr/lib/syslinux/isolinux.bin'],
  'ldlinux.c32': ['/usr/lib/syslinux/modules/bios/ldlinux.c32'],
} as const;

/** Returns the path of the first existing candidate, or throws naming the Debian package. */
function findFile(name: keyof typeof ISOLINUX_FILES): string {
  const hit = ISOLINUX_FILES[name].find((p) => existsSync(p));
  if (!hit) throw new KickstandError('unavailable', `${name} not found (${ISOLINUX_FILES[name].join(', ')}); install Debian's isolinux and syslinux-common packages`);
  return hit;
}

/** Returns xorriso's path or throws a clear error. */
function xorriso(): string {
  const r = spawnSync('xorriso', ['-version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new KickstandError('unavailable', 'xorriso is needed to build boot ISOs; install Debian\'s xorriso package');
  return 'xorriso';
}

/** Builds the boot ISO for a system; returns the output path, size and volume label. */
export async function buildBootIso(ctx: CliContext, o: { system: string; output: string; base: string }): Promise<{ output: string; bytes: number; label: string }> {
  const tool = xorriso();
  const system = await ctx.store.getSystem(o.system);
  if (!system) throw new NotFoundError(`no system named ${JSON.stringify(o.system)}`);
  if (!system.build || !system.token) throw new ConflictError(`system ${JSON.stringify(o.system)} is not armed; run kickstand system rebuild ${o.system} first (the ISO carries the run's token)`);
  const catalog = new IsoCatalog({ dir: ctx.config.isos_dir, log: ctx.log, settleMs: 0 });
  const work = mkdtempSync(join(tmpdir(), 'ks-buildiso-'));
  try {
    await catalog.scan();
    ctx.registry.useDistroSource(catalogDistros(catalog, () => ctx.registry.yamlDistros()));
    const media = new DistroMedia(catalog, ctx.registry);
    const artifacts = new Artifacts(ctx.registry, await loadArtifactRenderer(ctx.config.templates_dir, ctx.log, { subnet: ctx.config.dhcp.subnet }));
    const { distro } = artifacts.resolve(system);
    const dir = join(work, 'isolinux');
    mkdirSync(join(dir, 'distros', distro.name), { recursive: true });
    for (const [name, inTree] of [['vmlinuz', distro.kernel], ['initrd.img', distro.initrd]] as const) {
      const src = await media.openFile(distro.name, inTree);
      if (!src) throw new NotFoundError(`distro ${distro.name}: ${inTree} not found; is its ISO in ${ctx.config.isos_dir}?`);
      try {
        const buf = await src.read(0, src.size);
        writeFileSync(join(dir, 'distros', distro.name, name), buf);
      } finally {
        await src.close?.();
      }
    }
    copyFileSync(findFile('isolinux.bin'), join(dir, 'isolinux.bin'));
    copyFileSync(findFile('ldlinux.c32'), join(dir, 'ldlinux.c32'));
    writeFileSync(join(dir, 'isolinux.cfg'), artifacts.render('isolinux', system, o.base));
    const label = `KS_${system.name.replace(/[^A-Za-z0-9]/g, '_').toUpperCase()}`.slice(0, 32);
    const output = resolve(o.output);
    mkdirSync(dirname(output), { recursive: true });
    const r = spawnSync(
      tool,
      ['-as', 'mkisofs', '-quiet', '-o', output, '-V', label, '-J', '-R', '-b', 'isolinux/isolinux.bin', '-c', 'isolinux/boot.cat', '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table', work],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new KickstandError('internal', `xorriso failed: ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
    return { output, bytes: statSync(output).size, label };
  } finally {
    await catalog.close();
    rmSync(work, { recursive: true, force: true });
  }
}
