// Builds power control from the configuration, for `kickstand serve` and the CLI alike: the
// secrets key, command timeouts, concurrency and the xl config source; in the server also the
// status poll and the built hook (the driver undoes install-only boot settings).
import { join } from 'node:path';
import type { Config } from '../config/load.ts';
import type { Logger } from '../log.ts';
import type { ProfileRegistry } from '../profiles/registry.ts';
import type { InstallEvent, System } from '../store/types.ts';
import { SecretBox } from '../power/secret-box.ts';
import type { PowerAction, PowerDriverName } from '../power/types.ts';
import type { Artifacts } from './artifacts.ts';
import type { Lifecycle } from './lifecycle.ts';
import { PowerControl } from './power-control.ts';

export interface PowerPartOptions {
  config: Config;
  lifecycle: Lifecycle;
  registry: ProfileRegistry;
  log: Logger;
  /** Renders xl configs for the xen driver (loaded on first use by the CLI). */
  artifacts: () => Artifacts | Promise<Artifacts>;
  onEvent?: (system: System, event: InstallEvent) => void;
  onAction?: (driver: PowerDriverName, action: PowerAction, ok: boolean) => void;
}

/** Returns the path of the key that seals power secrets. */
export function powerKeyPath(config: Config): string {
  return config.power.key_file ?? join(config.data_dir, 'power-secrets.key');
}

/** Returns power control configured from config. */
export function openPowerControl(o: PowerPartOptions): PowerControl {
  const commandTimeoutMs = o.config.power.command_timeout_seconds * 1000;
  const base = o.config.public_url ?? `http://localhost:${o.config.http.port}`;
  return new PowerControl({
    lifecycle: o.lifecycle,
    registry: o.registry,
    secrets: new SecretBox(powerKeyPath(o.config)),
    log: o.log,
    concurrency: o.config.power.concurrency,
    drivers: { ipmi: { commandTimeoutMs }, libvirt: { commandTimeoutMs }, xen: { commandTimeoutMs } },
    xlConfig: async (system) => (await o.artifacts()).render('xl', system, base),
    onEvent: o.onEvent,
    onAction: o.onAction,
  });
}

/** Polls every machine's power state every poll_seconds (when set); returns a stop function. */
export function startPowerPoll(power: PowerControl, config: Config, log: Logger): () => void {
  const ms = config.power.poll_seconds * 1000;
  if (ms === 0) return () => {};
  let running = false;
  const tick = () => {
    if (running) return;
    running = true;
    power
      .refresh()
      .catch((err: Error) => log.warn({ err: err.message }, 'power status poll failed'))
      .finally(() => (running = false));
  };
  const timer = setInterval(tick, ms);
  timer.unref();
  const first = setTimeout(tick, 1000);
  first.unref();
  return () => {
    clearInterval(timer);
    clearTimeout(first);
  };
}
