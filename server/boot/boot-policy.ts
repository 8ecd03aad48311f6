// What a machine that names itself by MAC gets: the one decision TFTP (pxelinux.cfg/01-<mac>,
// GRUB's grub.cfg-01-<mac>), iPXE (/ipxe/<mac>), DHCP (a PXE answer) and /ks by MAC share. An unknown MAC, a `discovered`
// one or a system without a profile gets the default local-boot menu and may be recorded as
// discovered (lifecycle.record_discovered, within the lifecycle's caps); a registered system
// gets its own menu, which carries its install while it is armed, and an armed system's menu or
// kickstart goes only where the trust policy allows (elsewhere: the local-boot menu, or 403).
import { NotFoundError } from '../errors.ts';
import type { System } from '../store/types.ts';
import type { Lifecycle } from './lifecycle.ts';
import { matchRequest, type MatchInput } from './match.ts';
import { normalizeAddress } from './trust.ts';

export interface BootPolicyOptions {
  lifecycle: Lifecycle;
  /** Record unknown MACs as `discovered` systems. */
  recordDiscovered: boolean;
}

/** Returns true when a MAC's system gets the default menu: unknown, discovered, or without a profile. */
function isUnknown(s: System | undefined): boolean {
  return !s || s.state === 'discovered' || !s.profile;
}

/** The boot policy for requests that name a machine by MAC. */
export class BootPolicy {
  private readonly lifecycle: Lifecycle;
  readonly recordDiscovered: boolean;

  constructor(o: BootPolicyOptions) {
    this.lifecycle = o.lifecycle;
    this.recordDiscovered = o.recordDiscovered;
  }

  /**
   * Returns the system whose own menu a MAC asking from source gets, or null for the default
   * local-boot menu; records `discovered` for an unknown MAC and `pxe` for an armed system.
   */
  async menuFor(mac: string, source: string | null, via: string): Promise<System | null> {
    const { lifecycle } = this;
    const [system] = await lifecycle.store.findSystemsByMacs([mac]);
    if (isUnknown(system)) {
      if (!system && this.recordDiscovered) await lifecycle.discovered(mac, normalizeAddress(source));
      return null;
    }
    if (system!.build && system!.token && !(await this.mayHaveInstall(system!, source, 'menu', via))) return null;
    if (system!.build) await lifecycle.pxe(system!.name, normalizeAddress(source), via);
    return system!;
  }

  /** Records that DHCP gave a MAC a PXE answer: `pxe` for a registered armed system, `discovered` for an unknown MAC. */
  async dhcpAnswered(mac: string, via: string): Promise<void> {
    const { lifecycle } = this;
    const [system] = await lifecycle.store.findSystemsByMacs([mac]);
    if (system && system.state !== 'discovered') await lifecycle.pxe(system.name, null, via);
    else if (!system && this.recordDiscovered) await lifecycle.discovered(mac, null);
  }

  /**
   * Returns the armed system a token-less /ks request names (anaconda's MAC headers, ?mac=, or
   * its source address) once the trust policy lets this source have its kickstart; binds the run
   * when bind is set. 404 when none is armed, 409 when several match, 403 when refused.
   */
  async kickstartFor(input: MatchInput, bind: boolean): Promise<System> {
    const { system, by } = await matchRequest(this.lifecycle.store, input);
    if (!system.build || !system.token) throw new NotFoundError('no armed system matches this request');
    const source = normalizeAddress(input.sourceIp);
    const tok = await this.lifecycle.store.findToken(system.token);
    if (!tok) throw new NotFoundError('no armed system matches this request');
    if (by === 'mac' && this.lifecycle.trust) {
      const v = await this.lifecycle.trust.byMac(system, source, tok.boundIp, 'kickstart');
      if (!v.ok) throw this.lifecycle.refuse(v, { system: system.name, source, via: 'kickstart by MAC' });
    }
    await this.lifecycle.admitFetch(system, tok, source, bind);
    return system;
  }

  /** Returns whether an armed system's install menu may go to source; counts and logs a refusal. */
  private async mayHaveInstall(system: System, source: string | null, purpose: 'menu', via: string): Promise<boolean> {
    const trust = this.lifecycle.trust;
    if (!trust) return true;
    const tok = await this.lifecycle.store.findToken(system.token!);
    const v = await trust.byMac(system, normalizeAddress(source), tok?.boundIp ?? null, purpose);
    if (v.ok) return true;
    this.lifecycle.refuse(v, { system: system.name, source: normalizeAddress(source), via: `${via} menu` });
    return false;
  }
}
