// Wires configuration, store, profiles, templates, ISOs and the three listeners. Nothing else.
import type { Server } from 'node:http';
import type { Config } from './config/load.ts';
import type { Logger } from './log.ts';
import { Artifacts, type ArtifactRenderer } from './boot/artifacts.ts';
import { catalogDistros, DistroMedia } from './boot/distro-media.ts';
import { Lifecycle } from './boot/lifecycle.ts';
import { createHttpHandler } from './http/app.ts';
import { ensureAdminToken } from './http/auth.ts';
import { listen } from './http/server.ts';
import { IsoCatalog } from './isos/catalog.ts';
import { ProfileRegistry } from './profiles/registry.ts';
import { describeStore, openStore } from './store/open.ts';
import { loadArtifactRenderer } from './boot/renderer.ts';
import { startTftp, type TftpPart } from './boot/tftp-part.ts';
import { startDhcp } from './boot/dhcp-part.ts';
import { loadLoaderFiles } from './boot/loader-files.ts';
import { serveTrees } from './boot/trees-part.ts';
import { Metrics } from './http/metrics.ts';
import { EventBus } from './http/dashboard/index.ts';
import { openPowerControl, startPowerPoll } from './boot/power-part.ts';
import type { PowerControl } from './boot/power-control.ts';

/** A running kickstand: its bound ports and a close() that stops everything. */
export interface Running {
  httpPort: number;
  tftpPort: number | null;
  adminTokenPath: string | null;
  lifecycle: Lifecycle;
  close(): Promise<void>;
}

/** Starts every part named by the configuration; a template, profile or bind error stops start-up and closes what was opened. */
export async function startKickstand(config: Config, log: Logger, options: { renderer?: ArtifactRenderer } = {}): Promise<Running> {
  // Everything opened is pushed here, so a failure half-way closes it all and the process can exit.
  const closers: Array<() => Promise<void> | void> = [];
  const closeAll = async () => {
    for (const c of closers.reverse()) await c();
    closers.length = 0;
  };
  try {
    return await start(config, log, options, closers, closeAll);
  } catch (err) {
    await closeAll();
    throw err;
  }
}

async function start(
  config: Config,
  log: Logger,
  options: { renderer?: ArtifactRenderer },
  closers: Array<() => Promise<void> | void>,
  closeAll: () => Promise<void>,
): Promise<Running> {
  const registry = new ProfileRegistry(config.profiles_dir, log.child({ subsystem: 'profiles' }));
  const renderer = options.renderer ?? (await loadArtifactRenderer(config.templates_dir, log.child({ subsystem: 'render' }), { subnet: config.dhcp.subnet }));
  const storeLog = log.child({ subsystem: 'store' });
  const store = await openStore(config, { log: storeLog, sqlite: { backgroundCheckpoint: true, onError: (message) => storeLog.warn(message) } });
  closers.push(() => store.close());
  log.info({ store: describeStore(config) }, `store: ${describeStore(config)}`);
  const metrics = new Metrics({ processMetrics: true });
  const bus = new EventBus();
  let power: PowerControl | null = null;
  const lifecycle = new Lifecycle({
    store,
    log: log.child({ subsystem: 'lifecycle' }),
    tokenTtlMs: config.lifecycle.token_ttl_seconds * 1000,
    stallMs: config.lifecycle.stall_seconds * 1000,
    maxLogBytes: config.lifecycle.max_log_bytes,
    onEvent: (system, event) => {
      metrics.onLifecycleEvent(system, event);
      bus.publish(system, event);
      if (event.stage === 'built' && event.run === system.run && system.state === 'built') {
        power?.installDone(system.name).catch((err: Error) => log.warn({ system: system.name, err: err.message }, 'power: after-built step failed'));
      }
    },
  });
  metrics.collectSystems(lifecycle);
  // Events other instances record reach this instance's live dashboard too (PostgreSQL LISTEN/NOTIFY).
  let remote = Promise.resolve();
  const unsubscribe = store.onRemoteChange?.((change) => {
    for (const e of change.events) {
      remote = remote.then(async () => {
        const s = await store.getSystem(e.system).catch(() => null);
        if (s) bus.publish(s, e);
      });
    }
  });
  if (unsubscribe) closers.push(unsubscribe);
  const catalog = new IsoCatalog({ dir: config.isos_dir, log: log.child({ subsystem: 'isos' }) });
  closers.push(() => catalog.close());
  await catalog.start();
  registry.useDistroSource(catalogDistros(catalog));
  const media = new DistroMedia(catalog, registry);
  const artifacts = new Artifacts(registry, renderer);
  registry.onReload(() => artifacts.invalidate());
  catalog.on('added', () => artifacts.invalidate());
  catalog.on('removed', () => artifacts.invalidate());
  registry.watch();
  closers.push(() => registry.close());

  power = openPowerControl({
    config,
    lifecycle,
    registry,
    log: log.child({ subsystem: 'power' }),
    artifacts: () => artifacts,
    onEvent: (system, event) => bus.publish(system, event),
    onAction: (driver, action, ok) => metrics.observePower(driver, action, ok),
  });
  metrics.collectPower(power);
  closers.push(startPowerPoll(power, config, log.child({ subsystem: 'power' })));

  const admin = ensureAdminToken(config.data_dir, config.auth.admin_token);
  if (admin.created) log.info({ path: admin.path }, `generated an admin token in ${admin.path} (mode 0600); use it as the API bearer token`);

  const loaders = await loadLoaderFiles(log.child({ subsystem: 'boot' }), { overrides: config.tftp.loaders });
  const httpLog = log.child({ subsystem: 'http' });
  const handler = createHttpHandler({
    lifecycle,
    registry,
    artifacts,
    adminToken: admin.token,
    log: httpLog,
    publicUrl: config.public_url,
    trees: serveTrees(media, httpLog),
    loaders,
    isoStatus: () => catalog.skipped().map((s) => ({ iso: s.isoPath, reason: s.reason })),
    metrics,
    bus,
    power,
    dashboard: { secureCookies: config.public_url?.startsWith('https:') ?? false },
  });
  const http: { server: Server; port: number } = await listen(handler, config.http.host, config.http.port);
  closers.push(async () => {
    http.server.closeAllConnections();
    await new Promise<void>((r) => http.server.close(() => r()));
  });
  log.info({ host: config.http.host, port: http.port }, `HTTP listening on ${config.http.host}:${http.port}`);

  let tftp: TftpPart | null = null;
  if (config.tftp.enabled) {
    const part = await startTftp({ config, log: log.child({ subsystem: 'tftp' }), lifecycle, artifacts, media, registry, loaders, httpPort: http.port });
    closers.push(() => part.close());
    tftp = part;
    metrics.collectTftp(() => part.stats());
    part.onTransfer((summary) => metrics.observeTftp(summary));
  }
  if (config.dhcp.mode !== 'off') {
    const part = await startDhcp({ config, log: log.child({ subsystem: 'dhcp' }), lifecycle, loaders, httpPort: http.port });
    closers.push(() => part.close());
    metrics.collectDhcp(() => part.stats());
  }

  return {
    httpPort: http.port,
    tftpPort: tftp?.port ?? null,
    adminTokenPath: admin.path,
    lifecycle,
    close: closeAll,
  };
}
