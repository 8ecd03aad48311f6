// UDP sockets tied to one network interface. Node's dgram cannot set SO_BINDTODEVICE, and a
// socket bound to 0.0.0.0 hears broadcasts from every interface; the small N-API addon in
// native/netbind sets SO_BINDTODEVICE before bind(2) and hands the descriptor to dgram, so the
// socket only ever receives what arrived on that interface and only sends out of it.
// Needs: Linux; the addon built at `npm ci` (python3, make, a C compiler); on Linux before 5.7,
// CAP_NET_RAW for SO_BINDTODEVICE; root or CAP_NET_BIND_SERVICE for ports below 1024.
import { createSocket, type Socket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { networkInterfaces } from 'node:os';
import { getSystemErrorName } from 'node:util';

/**
 * Where `node native/build.mjs` (run by `npm ci`) puts the addon: native/ at the package root,
 * found upward from this module (server/net/ through tsx, dist/net/ or the bundled dist/kickstand/).
 */
export const ADDON_PATH = findUp(dirname(fileURLToPath(import.meta.url)), join('native', 'netbind', 'build', 'Release', 'netbind.node'));

/** Returns the first dir/rel that exists walking up from dir, or the one two levels up (where it would be) when none does. */
function findUp(dir: string, rel: string): string {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, rel))) return join(d, rel);
    if (dirname(d) === d) return join(dir, '..', '..', rel);
  }
}

interface Netbind {
  openUdp4(ifname: string, address: string, port: number, reuseAddr: boolean): number;
  closeFd(fd: number): void;
}

/** Why a device socket could not be opened. */
export type DeviceBindReason = 'no-addon' | 'no-device' | 'not-permitted' | 'bind-failed';

/** A device socket could not be opened; `reason` says which step failed and the message how to fix it. */
export class DeviceBindError extends Error {
  constructor(
    message: string,
    readonly reason: DeviceBindReason,
    readonly iface: string,
    readonly errnoName?: string,
  ) {
    super(message);
    this.name = 'DeviceBindError';
  }
}

let addon: Netbind | null = null;

/** Returns the loaded addon, or throws a DeviceBindError saying how to build it. */
function netbind(iface: string): Netbind {
  if (addon) return addon;
  if (process.platform !== 'linux') throw new DeviceBindError(`interface "${iface}": binding to an interface needs Linux (SO_BINDTODEVICE)`, 'no-addon', iface);
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH) as Netbind;
    return addon;
  } catch (err) {
    throw new DeviceBindError(
      `interface "${iface}": the interface binding addon is not built (${(err as Error).message.split('\n')[0]}); run "npm ci" or "node native/build.mjs" (needs python3, make and a C compiler)`,
      'no-addon',
      iface,
    );
  }
}

/** Returns the IPv4 addresses of a network interface in the kernel's order, or null when there is no such interface. */
export function interfaceIpv4(name: string): string[] | null {
  const addrs = networkInterfaces()[name];
  if (!addrs) return null;
  return addrs.filter((a) => a.family === 'IPv4').map((a) => a.address);
}

/** Returns the names of this host's network interfaces (for error messages). */
export function interfaceNames(): string[] {
  return Object.keys(networkInterfaces()).sort();
}

export interface DeviceSocketOptions {
  /** Interface name, e.g. `eth1` or `br0`. */
  iface: string;
  /** Local address to bind (0.0.0.0 to hear broadcasts on that interface). */
  address: string;
  port: number;
  /** Let a second socket share the port (one on 0.0.0.0, one on the interface's address). */
  reuseAddr?: boolean;
}

/** Returns a bound dgram socket that receives only what arrives on iface and sends only out of it. */
export async function openDeviceSocket(o: DeviceSocketOptions): Promise<Socket> {
  const nb = netbind(o.iface);
  let fd: number;
  try {
    fd = nb.openUdp4(o.iface, o.address, o.port, o.reuseAddr ?? false);
  } catch (err) {
    throw explain(err as Error & { errno?: number; syscall?: string }, o);
  }
  const sock = createSocket({ type: 'udp4' });
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind({ fd }, () => {
        sock.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    nb.closeFd(fd);
    throw err;
  }
  return sock;
}

function explain(err: Error & { errno?: number; syscall?: string }, o: DeviceSocketOptions): Error {
  if (typeof err.errno !== 'number') return err;
  const name = getSystemErrorName(-err.errno);
  const where = `${o.address}:${o.port} on interface "${o.iface}"`;
  if (err.syscall === 'SO_BINDTODEVICE') {
    if (name === 'ENODEV') return new DeviceBindError(`interface "${o.iface}" does not exist (this host has: ${interfaceNames().join(', ')})`, 'no-device', o.iface, name);
    if (name === 'EPERM') {
      return new DeviceBindError(`interface "${o.iface}": SO_BINDTODEVICE refused (EPERM): on Linux before 5.7 it needs CAP_NET_RAW`, 'not-permitted', o.iface, name);
    }
  }
  if (err.syscall === 'bind') {
    if (name === 'EACCES') return new DeviceBindError(`${where}: permission denied (EACCES): ports below 1024 need root or CAP_NET_BIND_SERVICE`, 'not-permitted', o.iface, name);
    if (name === 'EADDRINUSE') return new DeviceBindError(`${where}: address in use (EADDRINUSE): is another DHCP server running on it?`, 'bind-failed', o.iface, name);
  }
  return new DeviceBindError(`${where}: ${err.message} (${name})`, 'bind-failed', o.iface, name);
}
