// Wires configuration, store, profiles, templates, ISOs and the three listeners. Nothing else.
import type { Server } from 'node:http';
import { join } from 'node:path';
import type { Config } from './config/load.ts';
import type { Logger } from './log.ts';
import { Artifacts, type ArtifactRenderer } from './boot/artifacts.ts';
import { catalogDistros, describeShadowed, DistroMedia, shadowedIsos } from './boot/distro-media.ts';
import { Lifecycle } from './boot/lifecycle.ts';
import { BootPolicy } from './boot/boot-policy.ts';
import { Refusals } from './boot/refusals.ts';
import { Trust } from './boot/trust.ts';
import { lifecycleLimits, trustPolicy } from './boot/security-config.ts';
import { lockDataDir, prepareDataDir } from './data-dir.ts';
import { startMetricsListener } from './http/metrics-listener.ts';
import { createHttpHandler } from './http/app.ts';
import { ensureAdminToken } from './http/auth.ts';
import { listen } from './http/server.ts';
import { IsoCatalog } from './isos/catalog.ts';
import { ProfileRegistry } from './profiles/registry.ts';
import { profileCache } from './profiles/cache-file.ts';
import { BUILD_ID } from './build-id.ts';
import { describeStore, openStore } from './store/open.ts';
import { loadArtifactRenderer } from './boot/renderer.ts';
import { startTftp, type TftpPart } from './boot/tftp-part.ts';
import { loadLoaderFiles } from './boot/loader-files.ts';
import { serveTrees } from './http/trees-part.ts';
import { Metrics } from './http/metrics.ts';
import { EventBus } from './http/dashboard/bus.ts';
import { createReloader, type ReloadResult } from './reload.ts';
import { openPowerControl, startPowerPoll } from './boot/power-part.ts';
import type { PowerControl } from './boot/power-control.ts';

/** A running kickstand: its bound ports and a close() that stops everything. */
export interface Running {
  httpPort: number;
  tftpPort: number | null;
  adminTokenPath: string | null;
  lifecycle: Lifecycle;
  /** Reloads profiles, templates and the reloadable configuration (SIGHUP); a bad reload keeps the running set. */
  reload(): Promise<ReloadResult>;
  close(): Promise<void>;
}

export interface StartOptions {
  /** A renderer given in code (tests); templates are then not reloaded. */
  renderer?: ArtifactRenderer;
  /** Reads the configuration again for a reload; without it a reload keeps the configuration. */
  reloadConfig?: () => Config;
}

/** Starts every part named by the configuration; a template, profile or bind error stops start-up and closes what was opened. */
export async function startKickstand(config: Config, log: Logger, options: StartOptions = {}): Promise<Running> {
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
  options: StartOptions,
  closers: Array<() => Promise<void> | void>,
  closeAll: () => Promise<void>,
): Promise<Running> {
  prepareDataDir(config.data_dir, log);
  // One server per data folder; `kickstand restore` takes the same lock (data-dir.ts).
  const dataLock = lockDataDir(config.data_dir);
  closers.push(() => dataLock.release());
  const registry = new ProfileRegistry(config.profiles_dir, log.child({ subsystem: 'profiles' }), profileCache(config, BUILD_ID));
  const loadTemplates = () =>
    loadArtifactRenderer(config.templates_dir, log.child({ subsystem: 'render' }), { subnet: config.dhcp.subnet }, join(config.data_dir, 'cache', 'templates.json'));
  const renderer = options.renderer ?? (await loadTemplates());
  const storeLog = log.child({ subsystem: 'store' });
  const store = await openStore(config, { log: storeLog, sqlite: { backgroundCheckpoint: true, onError: (message) => storeLog.warn(message) } });
  closers.push(() => store.close());
  log.info({ store: describeStore(config) }, `store: ${describeStore(config)}`);
  const metrics = new Metrics();
  const bus = new EventBus();
  const refusals = new Refusals({ log: log.child({ subsystem: 'trust' }) });
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
    trust: new Trust({ store, policy: trustPolicy(config) }),
    refusals,
    limits: lifecycleLimits(config),
  });
  const policy = new BootPolicy({ lifecycle, recordDiscovered: config.lifecycle.record_discovered });
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
  metrics.collectRefusals(refusals);
  const catalog = new IsoCatalog({ dir: config.isos_dir, log: log.child({ subsystem: 'isos' }) });
  closers.push(() => catalog.close());
  await catalog.start();
  registry.useDistroSource(catalogDistros(catalog, () => registry.yamlDistros()));
  // An ISO whose distro name a YAML distro takes for another file is served under another name: say so.
  const warnShadowed = () => {
    for (const s of shadowedIsos(catalog.list(), registry.yamlDistros())) log.warn({ iso: s.file, distro: s.detected, servedAs: s.servedAs }, describeShadowed(s));
  };
  warnShadowed();
  catalog.on('added', warnShadowed);
  registry.onReload(warnShadowed);
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
  const separateMetrics = config.metrics.port !== undefined;
  const handler = createHttpHandler({
    lifecycle,
    policy,
    registry,
    artifacts,
    adminToken: admin.token,
    log: httpLog,
    publicUrl: config.public_url,
    trees: serveTrees(media, httpLog),
    loaders,
    isoStatus: () => catalog.skipped().map((s) => ({ iso: s.isoPath, reason: s.reason })),
    metrics,
    metricsRoute: separateMetrics ? false : { token: config.metrics.token },
    bus,
    power,
    dashboard: { secureCookies: config.public_url?.startsWith('https:') ?? false },
  });
  const http: { server: Server; port: number } = await listen(handler, config.http.host, config.http.port, config.http.backlog);
  closers.push(async () => {
    http.server.closeAllConnections();
    await new Promise<void>((r) => http.server.close(() => r()));
  });
  log.info({ host: config.http.host, port: http.port }, `HTTP listening on ${config.http.host}:${http.port}`);
  if (separateMetrics) {
    const m = await startMetricsListener({ metrics, host: config.metrics.host ?? '127.0.0.1', port: config.metrics.port!, token: config.metrics.token, adminToken: admin.token, log: httpLog });
    closers.push(() => m.close());
  }

  let tftp: TftpPart | null = null;
  if (config.tftp.enabled) {
    const part = await startTftp({ config, log: log.child({ subsystem: 'tftp' }), policy, artifacts, media, registry, loaders, httpPort: http.port });
    closers.push(() => part.close());
    tftp = part;
    metrics.collectTftp(() => part.stats());
    part.onTransfer((summary) => metrics.observeTftp(summary));
  }
  if (config.dhcp.mode !== 'off') {
    const { startDhcp } = await import('./boot/dhcp-part.ts');
    const part = await startDhcp({ config, log: log.child({ subsystem: 'dhcp' }), lifecycle, policy, loaders, httpPort: http.port });
    closers.push(() => part.close());
    metrics.collectDhcp(() => part.stats());
  }

  // The API and dashboard load once the service is up (the machines' boot path needs neither), as
  // do the process metrics' monitors: after this start returns and "ready" is said, not on the first
  // admin request.
  setImmediate(() => {
    metrics.collectProcessMetrics();
    void handler.load().catch((err: unknown) => httpLog.error({ err: (err as Error).message }, 'the API and dashboard could not be loaded'));
  });

  return {
    httpPort: http.port,
    tftpPort: tftp?.port ?? null,
    adminTokenPath: admin.path,
    lifecycle,
    reload: createReloader({
      config,
      loadConfig: options.reloadConfig ?? null,
      loadRenderer: options.renderer ? null : loadTemplates,
      registry,
      artifacts,
      lifecycle,
      log,
    }),
    close: closeAll,
  };
}
