// GRUB 2 network boot configs over TFTP, named the way GRUB looks them up under its prefix. What
// Debian's signed network image (grubnetx64.efi.signed, served as grubx64.efi behind shim) asks
// for, from a TFTP log: grub/x86_64-efi/{command,fs,crypto,terminal}.lst, then grub/grub.cfg and
// nothing else (its embedded config sources $prefix/grub.cfg, so GRUB's own search of
// grub.cfg-01-<mac> and the hex-IP names never runs). kickstand answers grub/grub.cfg with an
// entry config that loads grub.cfg-01-<mac> by $net_default_mac, and answers that name per
// machine from the boot policy (boot-policy.ts, shared with pxelinux.cfg, iPXE and DHCP): install
// while armed and the trust policy lets the asking address have it, local boot otherwise; for
// every MAC, so a machine never falls through to nothing. Images that do search get the same
// answers; hex-IP names are "not found", so GRUB goes on to the MAC and the default.
import { bufferSource, type ByteSource } from '../byte-source.ts';
import { parseMac } from '../profiles/mac.ts';
import type { Artifacts } from './artifacts.ts';
import type { BootPolicy } from './boot-policy.ts';

/** Folders GRUB images use as their prefix on a TFTP server: Debian's (grub/), grub-mknetdir's (boot/grub/) and the root. */
export const GRUB_PREFIXES: readonly string[] = ['grub', 'boot/grub', ''];

/** What a GRUB config request names: the entry config, one MAC's config, or a name kickstand does not serve. */
export type GrubRequest = { kind: 'entry' } | { kind: 'mac'; mac: string } | { kind: 'unserved' };

/** Returns what a TFTP path asks of GRUB's configs, or null when it is no GRUB config name. */
export function parseGrubPath(path: string): GrubRequest | null {
  const slash = path.lastIndexOf('/');
  const dir = slash < 0 ? '' : path.slice(0, slash);
  const file = path.slice(slash + 1);
  if (!GRUB_PREFIXES.includes(dir) || !file.startsWith('grub.cfg')) return null;
  if (file === 'grub.cfg') return { kind: 'entry' };
  const m = /^grub\.cfg-01-((?:[0-9a-f]{2}-){5}[0-9a-f]{2})$/i.exec(file);
  if (m) return { kind: 'mac', mac: parseMac(m[1]!)! };
  return { kind: 'unserved' }; // grub.cfg-<hex IP prefix>, grub.cfg-<uuid>: GRUB moves on
}

export interface GrubConfigOptions {
  /** Decides what a MAC's grub.cfg-01-<mac> carries (shared with pxelinux.cfg, iPXE and DHCP). */
  policy: BootPolicy;
  artifacts: Artifacts;
  /** Base URL menus point guests at (kickstart, scripts, trees). */
  base: string;
}

/** Serves one GRUB config request: a ByteSource, or null for "not found"; null itself when the path is no GRUB config. */
export type GrubConfigs = (path: string, source: string) => Promise<ByteSource | null> | null;

/** Returns the GRUB config part of the TFTP policy. */
export function createGrubConfigs(o: GrubConfigOptions): GrubConfigs {
  const { policy, artifacts } = o;
  const text = (s: string) => bufferSource(Buffer.from(s, 'utf8'));

  async function machine(mac: string, source: string): Promise<ByteSource> {
    const system = await policy.menuFor(mac, source, `tftp grub.cfg-01-${mac.replace(/:/g, '-')}`);
    return text(system ? artifacts.render('grub', system, o.base) : artifacts.renderDefault('grub', o.base));
  }

  return (path, source) => {
    const req = parseGrubPath(path);
    if (!req) return null;
    if (req.kind === 'entry') return Promise.resolve(text(artifacts.renderGrubEntry(o.base)));
    if (req.kind === 'mac') return machine(req.mac, source);
    return Promise.resolve(null);
  };
}
