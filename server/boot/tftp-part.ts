// TFTP wired to the rest: the protocol server with kickstand's boot policy, boot loaders found
// where Debian puts them, extra roots from the configuration, kernels out of ISOs.
import { availableParallelism, networkInterfaces } from 'node:os';
import type { Config } from '../config/load.ts';
import type { Logger } from '../log.ts';
import { TftpServer, type TransferSummary } from '../tftp/index.ts';
import type { TftpStats } from '../tftp/stats.ts';
import type { ProfileRegistry } from '../profiles/registry.ts';
import type { Artifacts } from './artifacts.ts';
import type { BootPolicy } from './boot-policy.ts';
import type { DistroMedia } from './distro-media.ts';
import { openUnder } from './file-roots.ts';
import type { LoaderFiles } from './loader-files.ts';
import { createTftpHandler } from './tftp-handler.ts';
import { createGrubConfigs } from './grub-config.ts';

/** A running TFTP server. */
export interface TftpPart {
  port: number;
  stats(): TftpStats;
  onTransfer(fn: (s: TransferSummary) => void): void;
  close(): Promise<void>;
}

/** Returns the base URL guests booted over TFTP should use for HTTP. */
export function menuBaseUrl(config: Config, httpPort: number): string {
  if (config.public_url) return config.public_url.replace(/\/+$/, '');
  if (config.dhcp.server_ip) return `http://${config.dhcp.server_ip}:${httpPort}`;
  if (config.tftp.host !== '0.0.0.0' && config.tftp.host !== '::') return `http://${config.tftp.host}:${httpPort}`;
  const first = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal);
  return `http://${first?.address ?? '127.0.0.1'}:${httpPort}`;
}

/** Returns the number of transfer threads: the configured one, else one per core, at most 8. */
export function tftpWorkers(config: Config): number {
  return config.tftp.workers ?? Math.min(8, availableParallelism());
}

/** Starts TFTP on the configured address and port. */
export async function startTftp(o: {
  config: Config;
  log: Logger;
  policy: BootPolicy;
  artifacts: Artifacts;
  media: DistroMedia;
  registry: ProfileRegistry;
  /** Boot loaders found at start (shared with HTTP and DHCP). */
  loaders: LoaderFiles;
  httpPort: number;
}): Promise<TftpPart> {
  const { config, log, loaders } = o;
  const base = menuBaseUrl(config, o.httpPort);
  const handler = createTftpHandler({
    policy: o.policy,
    artifacts: o.artifacts,
    registry: o.registry,
    media: o.media,
    base,
    log,
    grub: createGrubConfigs({ policy: o.policy, artifacts: o.artifacts, base }),
    async openFile(path) {
      return (await loaders.open(path)) ?? openUnder(config.tftp.roots, path);
    },
  });
  const server = new TftpServer({
    handler,
    log,
    host: config.tftp.host,
    port: config.tftp.port,
    maxBlksize: config.tftp.max_blksize,
    maxTransfers: config.tftp.max_transfers,
    maxTransfersPerClient: config.tftp.max_transfers_per_client,
    maxUnanswered: config.tftp.max_unanswered,
    maxPending: config.tftp.max_pending,
    busyPollUs: config.tftp.busy_poll_us,
    workers: tftpWorkers(config),
    engine: config.tftp.engine,
  });
  const addr = await server.listen();
  log.info({ port: addr.port, base }, `TFTP listening on ${addr.address}:${addr.port}; menus point at ${base}`);
  return {
    port: addr.port,
    stats: () => server.stats(),
    onTransfer: (fn) => void server.on('transfer', fn),
    close: () => server.close(),
  };
}
