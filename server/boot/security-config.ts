// The `security` and `lifecycle` settings turned into the trust policy and the lifecycle's caps.
import type { Config } from '../config/load.ts';
import type { LifecycleLimits } from './lifecycle.ts';
import type { TrustPolicy } from './trust.ts';

/** Returns the trust policy the configuration asks for. */
export function trustPolicy(config: Config): TrustPolicy {
  const s = config.security;
  return { matchByMac: s.match_by_mac, bindRuns: s.bind_runs, trustedHosts: s.trusted_hosts, leasesNameAddresses: config.dhcp.mode === 'full' };
}

/** Returns the lifecycle caps the configuration asks for. */
export function lifecycleLimits(config: Config): LifecycleLimits {
  const l = config.lifecycle;
  return {
    eventsPerRun: l.max_events_per_run,
    finalReportsPerRun: l.max_final_reports_per_run,
    logBytesPerSystem: l.max_log_bytes_per_system,
    discoveredPerWindow: l.discovered_per_window,
    discoveredWindowMs: l.discovered_window_seconds * 1000,
    discoveredMax: l.discovered_max,
  };
}
