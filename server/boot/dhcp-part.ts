// DHCP wired to the rest: the booter answers from config, reservations come from systems with a
// fixed IP, leases persist in the store, and PXE answers feed the lifecycle's `pxe` event.
import type { Config } from '../config/load.ts';
import type { Logger } from '../log.ts';
import { ConfigError } from '../errors.ts';
import { DhcpServer, type DhcpStats } from '../dhcp/server.ts';
import type { BootPolicy } from './boot-policy.ts';
import { createDhcpBooter } from './dhcp-booter.ts';
import type { Lifecycle } from './lifecycle.ts';
import { LoadBalancer } from '../dhcp/load-balance.ts';
import { DhcpPeers } from './dhcp-peers.ts';
import type { LoaderFiles } from './loader-files.ts';
import type { DhcpLease } from '../dhcp/leases.ts';
import type { DhcpLeaseRecord } from '../store/leases.ts';

// The store keeps the DHCP module's leases as rows of its own shape (store/leases.ts imports no
// protocol module); here, where the two meet, the compiler checks they are the same both ways.
type SameShape<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const leaseShapesAgree: SameShape<DhcpLease, DhcpLeaseRecord> = true;
void leaseShapesAgree;

/** A running DHCP server. */
export interface DhcpPart {
  stats(): DhcpStats;
  close(): Promise<void>;
}

/** Starts DHCP in the configured mode. */
export async function startDhcp(o: { config: Config; log: Logger; lifecycle: Lifecycle; policy: BootPolicy; loaders?: LoaderFiles; httpPort: number }): Promise<DhcpPart> {
  const { config, log, lifecycle, policy } = o;
  const d = config.dhcp;
  const store = lifecycle.store;
  const serverIp = d.server_ip!;
  const httpBase = config.public_url ?? `http://${serverIp}:${o.httpPort}`;
  const booter = createDhcpBooter(
    { tftpServer: serverIp, httpBase, ipxeChain: d.ipxe_chain, efiLoader: d.efi_loader, ipxeClients: d.ipxe_clients, ipxeScriptPath: '/ipxe/{mac}' },
    {
      loaders: o.loaders,
      log,
      async reservationFor(mac) {
        const [s] = await store.findSystemsByMacs([mac]);
        return s?.ip ? { ip: s.ip, ...(s.hostname ? { hostname: s.hostname } : {}) } : null;
      },
      onPxe(client, answer) {
        policy.dhcpAnswered(client.mac, `dhcp: ${answer.bootFile}`).catch((err: Error) => log.warn({ mac: client.mac, err: err.message }, 'could not record the pxe event'));
      },
    },
  );
  const sub = d.subnet;
  const lb = d.load_balancing;
  let balancer: LoadBalancer | null = null;
  if (lb) {
    if (!store.heartbeat) throw new ConfigError('dhcp.load_balancing: needs store.url (PostgreSQL shared by every peer)', 'dhcp.load_balancing');
    balancer = new LoadBalancer(lb.peers, lb.this_server, serverIp);
  }
  const server: DhcpServer = new DhcpServer({
    mode: d.mode as 'proxy' | 'full',
    booter,
    log,
    serverIp,
    interfaces: d.interface === undefined ? undefined : typeof d.interface === 'string' ? [d.interface] : [...d.interface],
    ports: d.ports,
    subnet: sub
      ? { network: sub.network, mask: sub.mask, router: sub.router, dns: sub.dns, domain: sub.domain, poolStart: sub.pool_start, poolEnd: sub.pool_end, leaseSeconds: sub.lease_seconds }
      : undefined,
    leaseStore: store,
    accept: balancer ? (req, onPxePort) => balancer.accepts(req, onPxePort) : undefined,
    // On PostgreSQL other instances may share the pool: offers are claimed in the database first.
    sharedPool: config.store.url ? { slice: lb ? { index: lb.peers.indexOf(lb.this_server), count: lb.peers.length } : null } : undefined,
  });
  const ports = await server.listen();
  log.info({ mode: d.mode, ...ports }, `DHCP (${d.mode}) listening`);
  let peers: DhcpPeers | null = null;
  if (balancer && lb) {
    peers = new DhcpPeers({
      heartbeat: (name) => store.heartbeat!(name),
      balancer,
      log,
      heartbeatMs: lb.heartbeat_ms,
      maxResponseDelayMs: lb.max_response_delay_ms,
      // Clients taken over keep their addresses (a run is bound to its address): learn the leases
      // the other instance handed out before answering its clients.
      beforeGain: async () => {
        await server.reloadLeases();
      },
    });
    await peers.start();
  }
  return {
    stats: () => server.stats(),
    close: async () => {
      peers?.stop();
      await server.close();
    },
  };
}
