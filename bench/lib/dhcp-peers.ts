// The DHCP peers in full-server mode on one interface: Kea (kea-dhcp4-server, memfile leases
// persisted to CSV) and dnsmasq (DHCP only), each at its default log level, logging to a file,
// plus readers for what each acknowledged (from its log) and kept on disk (its lease file).
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { commandLine, start, waitFor, type Proc } from './procs.ts';

/** One subnet served by every DHCP server in the figure. */
export interface BenchSubnet {
  iface: string;
  serverIp: string;
  network: string;
  prefix: number;
  mask: string;
  poolStart: string;
  poolEnd: string;
  leaseSeconds: number;
}

/** A started DHCP peer: what it acknowledged and what it has on disk. */
export interface DhcpPeer {
  proc: Proc;
  command: string;
  /** MACs the server logged an ACK for. */
  ackedMacs(): Set<string>;
  /** MACs with a live lease in the server's lease file (or database). */
  persistedMacs(): Set<string> | Promise<Set<string>>;
}

function read(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

/** Starts kea-dhcp4 with memfile leases persisted to dir/kea-leases4.csv. */
export async function startKea(dir: string, s: BenchSubnet): Promise<DhcpPeer> {
  const leases = join(dir, 'kea-leases4.csv');
  const log = join(dir, 'kea.log');
  const conf = join(dir, 'kea-dhcp4.json');
  writeFileSync(
    conf,
    JSON.stringify(
      {
        Dhcp4: {
          'interfaces-config': { interfaces: [s.iface] },
          'lease-database': { type: 'memfile', persist: true, name: leases, 'lfc-interval': 0 },
          'valid-lifetime': s.leaseSeconds,
          subnet4: [{ subnet: `${s.network}/${s.prefix}`, pools: [{ pool: `${s.poolStart} - ${s.poolEnd}` }], 'option-data': [{ name: 'routers', data: s.serverIp }] }],
          // Kea rotates its log at 10 MB by default; the ACK count needs every line.
          loggers: [{ name: 'kea-dhcp4', output_options: [{ output: log, maxsize: 1024 ** 3, maxver: 2 }], severity: 'INFO' }],
        },
      },
      null,
      1,
    ),
  );
  const env = { ...process.env, KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir, KEA_LOGGER_DESTINATION: log };
  const proc = start('kea-dhcp4', 'kea-dhcp4', ['-c', conf], { env, logFile: join(dir, 'kea.out') });
  await waitFor(() => {
    if (!proc.alive()) throw new Error(`kea-dhcp4 exited at start; see ${dir}/kea.out and kea.log`);
    return /DHCP4_STARTED/.test(read(log));
  }, 'kea-dhcp4 start', 30_000);
  return {
    proc,
    command: `${commandLine('kea-dhcp4', ['-c', 'kea-dhcp4.json'])}  # memfile, persist true, lfc-interval 0, loggers severity INFO`,
    ackedMacs: () => new Set([...(read(`${log}.1`) + read(log)).matchAll(/DHCP4_LEASE_ALLOC \[hwtype=1 ([0-9a-f:]{17})\]/g)].map((m) => m[1])),
    persistedMacs() {
      // address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,…
      const live = new Set<string>();
      for (const line of read(leases).split('\n').slice(1)) {
        const f = line.split(',');
        if (f.length > 9 && f[9] === '0' && Number(f[3]) > 0) live.add(f[1]);
      }
      return live;
    },
  };
}

/**
 * Starts dnsmasq as a DHCP server only (DNS off), defaults otherwise but for the lease limit and
 * --no-ping (by default it pings each new address and waits for the echo: one client every 3 s).
 */
export async function startDnsmasqDhcp(dir: string, s: BenchSubnet): Promise<DhcpPeer> {
  const leases = join(dir, 'dnsmasq.leases');
  const log = join(dir, 'dnsmasq-dhcp.log');
  const args = [
    '--keep-in-foreground', '--conf-file=/dev/null', '--port=0', '--user=root', `--interface=${s.iface}`, '--bind-interfaces',
    `--dhcp-range=${s.poolStart},${s.poolEnd},${s.mask},${s.leaseSeconds}`, '--dhcp-lease-max=200000', '--no-ping', `--dhcp-leasefile=${leases}`,
    `--log-facility=${log}`, `--pid-file=${dir}/dnsmasq-dhcp.pid`,
  ];
  const proc = start('dnsmasq', 'dnsmasq', args, { logFile: join(dir, 'dnsmasq-dhcp.out') });
  await waitFor(() => {
    if (!proc.alive()) throw new Error(`dnsmasq exited at start; see ${log}`);
    return /DHCP, IP range/.test(read(log));
  }, 'dnsmasq start', 30_000);
  return {
    proc,
    command: commandLine('dnsmasq', args).split(dir).join('$TMP'),
    ackedMacs: () => new Set([...(read(`${log}.1`) + read(log)).matchAll(/DHCPACK\([^)]*\) [\d.]+ ([0-9a-f:]{17})/g)].map((m) => m[1])),
    persistedMacs: () => new Set(read(leases).split('\n').filter(Boolean).map((l) => l.split(' ')[1])),
  };
}
