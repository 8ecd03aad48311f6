// The TFTP policy: which bytes answer which file name. pxelinux.cfg/* is generated from the
// lifecycle state (PXELINUX asks UUID, 01-MAC, hex IP prefixes, then default: we answer 01-MAC
// for every MAC, so a machine never falls through to nothing), distros/<name>/{vmlinuz,initrd.img}
// come out of ISOs, and everything else is a boot loader or a file under the configured roots.
import { bufferSource, type ByteSource } from '../byte-source.ts';
import type { Logger } from '../log.ts';
import { NotFoundError } from '../errors.ts';
import type { TftpHandler, TftpRequest } from '../tftp/server.ts';
import { parseMac } from '../profiles/mac.ts';
import type { ProfileRegistry } from '../profiles/registry.ts';
import type { Artifacts } from './artifacts.ts';
import type { BootPolicy } from './boot-policy.ts';
import type { DistroMedia } from './distro-media.ts';
import type { GrubConfigs } from './grub-config.ts';

export interface TftpPolicyOptions {
  /** Decides what a MAC's pxelinux.cfg/01-<mac> carries (shared with iPXE and DHCP). */
  policy: BootPolicy;
  artifacts: Artifacts;
  registry: ProfileRegistry;
  media: Pick<DistroMedia, 'openFile'>;
  /** Opens boot loaders and files under the configured roots (refusing paths that escape). */
  openFile: (path: string) => Promise<ByteSource | null>;
  /** Base URL menus point guests at (kickstart, scripts, trees). */
  base: string;
  log: Logger;
  /** GRUB 2 network boot configs (grub-config.ts), asked for under GRUB's prefix. */
  grub?: GrubConfigs;
}

/** Returns the request path without leading slashes, with DOS separators turned around. */
export function normalizeTftpPath(filename: string): string {
  return filename.replace(/\\/g, '/').replace(/^\/+/, '');
}

/** Returns the TFTP handler implementing kickstand's boot policy. */
export function createTftpHandler(o: TftpPolicyOptions): TftpHandler {
  const { policy, artifacts, registry, media } = o;
  const text = (s: string) => bufferSource(Buffer.from(s, 'utf8'));

  async function pxelinuxConfig(name: string, req: TftpRequest): Promise<ByteSource | null> {
    if (name === 'default') return text(artifacts.renderDefault('pxelinux', o.base));
    const m = /^01-((?:[0-9a-f]{2}-){5}[0-9a-f]{2})$/i.exec(name);
    if (!m) return null; // UUID or hex-IP names: let PXELINUX go on to 01-<mac>.
    const system = await policy.menuFor(parseMac(m[1]!)!, req.remote.address, `tftp pxelinux.cfg/${name}`);
    return text(system ? artifacts.render('pxelinux', system, o.base) : artifacts.renderDefault('pxelinux', o.base));
  }

  async function distroFile(name: string, file: string): Promise<ByteSource | null> {
    const distro = registry.distro(name);
    if (!distro) return null;
    const inTree = file === 'vmlinuz' ? distro.kernel : file === 'initrd.img' ? distro.initrd : null;
    if (!inTree) return null;
    const src = await media.openFile(name, inTree);
    if (!src) throw new NotFoundError(`distro ${name}: ${inTree} is not available (is its ISO in the isos folder?)`);
    return src;
  }

  return async (req) => {
    const path = normalizeTftpPath(req.filename);
    const cfg = /^pxelinux\.cfg\/([^/]+)$/.exec(path);
    if (cfg) return pxelinuxConfig(cfg[1]!, req);
    const grub = o.grub?.(path, req.remote.address);
    if (grub) return grub;
    const dist = /^distros\/([^/]+)\/([^/]+)$/.exec(path);
    if (dist) return distroFile(dist[1]!, dist[2]!);
    return o.openFile(path);
  };
}
