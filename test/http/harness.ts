// Builds the HTTP handler over the in-memory store, the example profiles and a fake renderer,
// with a controllable clock, for supertest.
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Artifacts } from '../../server/boot/artifacts.ts';
import { BootPolicy } from '../../server/boot/boot-policy.ts';
import { Lifecycle, type LifecycleLimits } from '../../server/boot/lifecycle.ts';
import { Trust, type TrustPolicy } from '../../server/boot/trust.ts';
import { createHttpHandler } from '../../server/http/app.ts';
import { captureLogger } from '../../server/log.ts';
import { ProfileRegistry } from '../../server/profiles/registry.ts';
import type { Store } from '../../server/store/types.ts';
import { memoryStore } from '../fakes/memory-store.ts';
import { fakeRenderer } from '../fakes/renderer.ts';

export const ADMIN = 'test-admin-token-0123456789abcdef';
export const PROFILES_DIR = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..', 'profiles');

export interface Harness {
  app: (req: IncomingMessage, res: ServerResponse) => void;
  store: Store;
  lifecycle: Lifecycle;
  clock: { now: number };
  auth: { Authorization: string };
  logs: () => Array<Record<string, unknown>>;
  renderer: ReturnType<typeof fakeRenderer>;
}

export interface HarnessOptions {
  store?: Store;
  tokenTtlMs?: number;
  stallMs?: number;
  maxLogBytes?: number;
  /** Trust policy over the default (false: no trust checks at all). */
  trust?: Partial<TrustPolicy> | false;
  limits?: Partial<LifecycleLimits>;
  recordDiscovered?: boolean;
  metricsRoute?: false | { token?: string };
}

/** Returns a fresh harness wired as main wires it (default trust policy and caps); options shrink limits. */
export function harness(options: HarnessOptions = {}): Harness {
  const { log, lines } = captureLogger('debug');
  const store = options.store ?? memoryStore();
  const clock = { now: Date.UTC(2026, 10, 24, 8, 0, 0) };
  const trust = options.trust === false ? undefined : new Trust({ store, policy: options.trust, clock: () => clock.now });
  const lifecycle = new Lifecycle({ store, log, clock: () => clock.now, tokenTtlMs: options.tokenTtlMs, stallMs: options.stallMs, maxLogBytes: options.maxLogBytes, trust, limits: options.limits });
  const policy = new BootPolicy({ lifecycle, recordDiscovered: options.recordDiscovered ?? true });
  const registry = new ProfileRegistry(PROFILES_DIR, log);
  const renderer = fakeRenderer();
  const artifacts = new Artifacts(registry, renderer);
  const app = createHttpHandler({ lifecycle, policy, registry, artifacts, adminToken: ADMIN, log, metricsRoute: options.metricsRoute });
  return { app, store, lifecycle, clock, auth: { Authorization: `Bearer ${ADMIN}` }, logs: lines, renderer };
}
