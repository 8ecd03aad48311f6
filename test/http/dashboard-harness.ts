// Builds the whole HTTP handler the way main wires it (metrics, event bus, lifecycle onEvent) over
// the in-memory store, the example profiles and the fake renderer, plus a logged-in supertest agent.
import type { IncomingMessage, ServerResponse } from 'node:http';
import request from 'supertest';
import { Artifacts } from '../../server/boot/artifacts.ts';
import { Lifecycle } from '../../server/boot/lifecycle.ts';
import { createHttpHandler } from '../../server/http/app.ts';
import { EventBus } from '../../server/http/dashboard/index.ts';
import { Metrics } from '../../server/http/metrics.ts';
import { captureLogger } from '../../server/log.ts';
import { ProfileRegistry } from '../../server/profiles/registry.ts';
import type { Store } from '../../server/store/types.ts';
import { memoryStore } from '../fakes/memory-store.ts';
import { fakeRenderer } from '../fakes/renderer.ts';
import { ADMIN, PROFILES_DIR } from './harness.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PowerControl } from '../../server/boot/power-control.ts';
import { SecretBox } from '../../server/power/secret-box.ts';
import { fakePower } from '../fakes/power.ts';

export { ADMIN };
export const NG = { name: 'ngtest-hvm', macs: ['00:16:3e:84:b5:99'], hostname: 'ngtest', profile: 'centos44-hvm' };

export interface DashboardHarness {
  app: (req: IncomingMessage, res: ServerResponse) => void;
  store: Store;
  lifecycle: Lifecycle;
  metrics: Metrics;
  bus: EventBus;
  clock: { now: number };
  logs: () => Array<Record<string, unknown>>;
  /** Power control over fake machines. */
  power: PowerControl;
  machines: ReturnType<typeof fakePower>;
}

/** Returns a fresh app wired like main: lifecycle events feed the metrics and the dashboard's bus. */
export function dashboardHarness(o: { store?: Store; stallMs?: number; sessionTtlMs?: number; loginFailures?: number; heartbeatMs?: number; maxStreams?: number; isoStatus?: () => unknown[] } = {}): DashboardHarness {
  const { log, lines } = captureLogger('debug');
  const store = o.store ?? memoryStore();
  const clock = { now: Date.UTC(2026, 10, 24, 8, 0, 0) };
  const metrics = new Metrics();
  const bus = new EventBus();
  const lifecycle = new Lifecycle({
    store,
    log,
    clock: () => clock.now,
    stallMs: o.stallMs,
    onEvent: (s, e) => {
      metrics.onLifecycleEvent(s, e);
      bus.publish(s, e);
    },
  });
  metrics.collectSystems(lifecycle);
  const registry = new ProfileRegistry(PROFILES_DIR, log);
  const artifacts = new Artifacts(registry, fakeRenderer());
  const machines = fakePower();
  const power = new PowerControl({
    lifecycle,
    registry,
    log,
    secrets: new SecretBox(join(mkdtempSync(join(tmpdir(), 'ks-power-key-')), 'key')),
    createDriver: machines.factory,
    xlConfig: (s) => artifacts.render('xl', s, 'http://kickstand.test'),
    onEvent: (s, e) => bus.publish(s, e),
    onAction: (driver, action, ok) => metrics.observePower(driver, action, ok),
  });
  metrics.collectPower(power);
  const app = createHttpHandler({
    lifecycle,
    registry,
    artifacts,
    adminToken: ADMIN,
    log,
    metrics,
    bus,
    power,
    isoStatus: o.isoStatus,
    dashboard: { sessionTtlMs: o.sessionTtlMs, loginFailures: o.loginFailures, heartbeatMs: o.heartbeatMs, maxStreams: o.maxStreams, clock: () => clock.now },
  });
  return { app, store, lifecycle, metrics, bus, clock, logs: lines, power, machines };
}

/** Returns the CSRF token in a page's forms. */
export function csrfOf(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error('no CSRF token in the page');
  return m[1]!;
}

/** Logs an agent in through the form; returns the agent (cookies kept) and the session's CSRF token. */
export async function loggedIn(app: DashboardHarness['app']): Promise<{ agent: ReturnType<typeof request.agent>; csrf: string }> {
  const agent = request.agent(app);
  const form = await agent.get('/ui/login');
  const r = await agent.post('/ui/login').type('form').send({ _csrf: csrfOf(form.text), token: ADMIN, next: '/ui/' });
  if (r.status !== 303) throw new Error(`login failed with ${r.status}`);
  const page = await agent.get('/ui/');
  return { agent, csrf: csrfOf(page.text) };
}
