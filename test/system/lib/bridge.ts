// One link several servers share: a bridge in the clients' namespace, each server namespace joined
// to it by a veth pair, so every server hears the clients' broadcasts (several kickstand instances
// on one network, each in a namespace of its own). Names are unique; cleanup deletes only these.
import { ip, uniqueName } from './netns.ts';

/** Creates a bridge in namespace ns, up, and returns its name. */
export function addBridge(ns: string): string {
  const br = uniqueName('ksbr');
  ip('-n', ns, 'link', 'add', br, 'type', 'bridge');
  // No STP delay: ports forward at once.
  ip('-n', ns, 'link', 'set', br, 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0');
  ip('-n', ns, 'link', 'set', br, 'up');
  return br;
}

/** Makes an interface of ns a port of the bridge (its addresses are the caller's to move). */
export function enslave(ns: string, iface: string, bridge: string): void {
  ip('-n', ns, 'link', 'set', iface, 'master', bridge);
  ip('-n', ns, 'link', 'set', iface, 'up');
}

/**
 * Joins serverNs to the bridge in bridgeNs with a veth pair; the server's end gets addr (CIDR).
 * Returns the server end's interface name.
 */
export function joinBridge(serverNs: string, addr: string, bridgeNs: string, bridge: string): string {
  const a = uniqueName('ksha');
  const b = uniqueName('kshb');
  ip('link', 'add', a, 'type', 'veth', 'peer', 'name', b);
  ip('link', 'set', a, 'netns', serverNs);
  ip('link', 'set', b, 'netns', bridgeNs);
  ip('-n', serverNs, 'addr', 'add', addr, 'dev', a);
  ip('-n', serverNs, 'link', 'set', a, 'up');
  enslave(bridgeNs, b, bridge);
  return a;
}
