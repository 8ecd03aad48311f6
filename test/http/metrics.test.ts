import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { register as globalRegistry } from 'prom-client';
import type { DhcpStats } from '../../server/dhcp/server.ts';
import type { TftpStats, TransferSummary } from '../../server/tftp/index.ts';
import { Metrics, routeLabel } from '../../server/http/metrics.ts';
import { harness } from './harness.ts';
import { memoryStore } from '../fakes/memory-store.ts';
import { NG, dashboardHarness } from './dashboard-harness.ts';

/** Returns the value of one sample line (`name{labels} value`), or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const scrape = async (app: Parameters<typeof request>[0]) => {
  const r = await request(app).get('/metrics');
  assert.equal(r.status, 200);
  return r.text;
};

describe('/metrics over HTTP', () => {
  test('counts HTTP requests by route table name, method and status on both the lean path and express', async () => {
    const h = dashboardHarness();
    const auth = { Authorization: 'Bearer test-admin-token-0123456789abcdef' };
    const created = await request(h.app).post('/api/v1/systems').set(auth).send({ ...NG, build: true }).expect(201);
    const ks = new URL(created.body.urls.kickstart).pathname;
    for (let i = 0; i < 3; i++) await request(h.app).get(ks).expect(200);
    await request(h.app).head(ks).expect(200);
    await request(h.app).get('/api/v1/systems').set(auth).expect(200);
    await request(h.app).get('/api/v1/systems').set(auth).expect(200);
    await request(h.app).get('/api/v1/systems/nope').set(auth).expect(404);
    await request(h.app).get('/api/v1/systems').expect(401);
    await request(h.app).get('/ks/not-a-token').expect(404);
    await request(h.app).get('/ks/not-a-token').expect(404);
    await request(h.app).put('/ks/x').expect(405);
    await request(h.app).get('/nowhere/at/all').expect(404);
    await request(h.app).get('/').expect(303);
    const t = await scrape(h.app);
    assert.equal(sample(t, 'kickstand_http_requests_total{route="createSystem",method="POST",status="201"}'), 1);
    assert.equal(sample(t, 'kickstand_http_requests_total{route="listSystems",method="GET",status="200"}'), 2);
    assert.equal(sample(t, 'kickstand_http_requests_total{route="listSystems",method="GET",status="401"}'), 1);
    assert.equal(sample(t, 'kickstand_http_requests_total{route="getSystem",method="GET",status="404"}'), 1);
    assert.equal(sample(t, 'kickstand_http_requests_total{route="kickstart",method="GET",status="404"}'), 2);
    assert.equal(sample(t, 'kickstand_http_requests_total{route="kickstart",method="GET",status="200"}'), 3);
    assert.equal(sample(t, 'kickstand_http_requests_total{route="kickstart",method="HEAD",status="200"}'), 1);
    assert.equal(sample(t, 'kickstand_http_requests_total{route="kickstart",method="PUT",status="405"}'), 1);
    assert.equal(sample(t, 'kickstand_http_requests_total{route="unmatched",method="GET",status="404"}'), 1);
    assert.equal(sample(t, 'kickstand_http_requests_total{route="dashboard",method="GET",status="303"}'), 1);
    const again = await scrape(h.app);
    assert.equal(sample(again, 'kickstand_http_requests_total{route="metrics",method="GET",status="200"}'), 1, 'the first scrape is counted by the second');
  });

  test('counts installs started, built and failed and times them from the first fetch to built', async () => {
    const h = dashboardHarness();
    await h.store.createSystem({ ...NG }, h.clock.now);
    await h.store.createSystem({ name: 'other', macs: ['00:16:3e:00:00:02'], profile: 'el9-kvm' }, h.clock.now);
    const a = (await h.lifecycle.arm(NG.name, null)).token!;
    const b = (await h.lifecycle.arm('other', null)).token!;
    h.clock.now += 120_000; // waiting for the guest to boot is not install time
    await request(h.app).get(`/ks/${a}`).expect(200);
    await request(h.app).get(`/scripts/${a}/rescue.sh`).expect(200); // a second fetch of the same run starts nothing
    await request(h.app).post(`/events/${b}/partitioned`).expect(200); // a run may start with a report
    h.clock.now += 600_000;
    await request(h.app).post(`/events/${a}/partitioned`).expect(200);
    await request(h.app).post(`/events/${a}/built`).expect(200);
    await request(h.app).post(`/events/${a}/built`).expect(200); // a repeated report records nothing
    await request(h.app).post(`/events/${b}/failed`).send('log').expect(200);
    const t = await scrape(h.app);
    assert.equal(sample(t, 'kickstand_installs_started_total'), 2);
    assert.equal(sample(t, 'kickstand_installs_built_total'), 1);
    assert.equal(sample(t, 'kickstand_installs_failed_total'), 1);
    assert.equal(sample(t, 'kickstand_install_duration_seconds_count'), 1);
    assert.equal(sample(t, 'kickstand_install_duration_seconds_sum'), 600);
    assert.equal(sample(t, 'kickstand_install_duration_seconds_bucket{le="300"}'), 0);
    assert.equal(sample(t, 'kickstand_install_duration_seconds_bucket{le="600"}'), 1);
  });

  test('a cancelled install and a late report of an old run are neither failures nor builds', async () => {
    const h = dashboardHarness();
    await h.store.createSystem({ ...NG }, h.clock.now);
    const old = (await h.lifecycle.arm(NG.name, null)).token!;
    await request(h.app).get(`/ks/${old}`).expect(200);
    await h.lifecycle.arm(NG.name, null);
    await request(h.app).post(`/events/${old}/built`).expect(200);
    await h.lifecycle.disarm(NG.name, null);
    const t = await scrape(h.app);
    assert.equal(sample(t, 'kickstand_installs_started_total'), 1);
    assert.equal(sample(t, 'kickstand_installs_built_total'), 0);
    assert.equal(sample(t, 'kickstand_installs_failed_total'), 0);
    assert.equal(sample(t, 'kickstand_install_duration_seconds_count'), 0);
  });

  test('counts stalled systems at scrape time from the store', async () => {
    const h = dashboardHarness({ stallMs: 60_000 });
    await h.store.createSystem({ ...NG }, h.clock.now);
    await h.store.createSystem({ name: 'other', macs: ['00:16:3e:00:00:02'], profile: 'el9-kvm' }, h.clock.now);
    const a = (await h.lifecycle.arm(NG.name, null)).token!;
    await request(h.app).post(`/events/${a}/partitioned`).expect(200);
    await h.lifecycle.arm('other', null);
    let t = await scrape(h.app);
    assert.equal(sample(t, 'kickstand_systems_stalled'), 0);
    assert.equal(sample(t, 'kickstand_systems{state="installing"}'), 1);
    h.clock.now += 60_001;
    t = await scrape(h.app);
    assert.equal(sample(t, 'kickstand_systems_stalled'), 1);
    assert.equal(sample(t, 'kickstand_systems{state="stalled"}'), 1);
    assert.equal(sample(t, 'kickstand_systems{state="installing"}'), 0);
    assert.equal(sample(t, 'kickstand_systems{state="build"}'), 1);
  });

  test('a scrape reads one aggregate count from the store and never lists systems', async () => {
    const inner = memoryStore();
    const calls: string[] = [];
    const store = new Proxy(inner, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? (...args: unknown[]) => (calls.push(String(prop)), (v as (...a: unknown[]) => unknown).apply(target, args)) : v;
      },
    });
    const h = dashboardHarness({ store });
    for (let i = 0; i < 50; i++) await inner.createSystem({ name: `s${i}`, macs: [`00:16:3e:00:01:${i.toString(16).padStart(2, '0')}`], profile: 'el9-kvm' }, 1);
    calls.length = 0;
    const t = await scrape(h.app);
    assert.equal(sample(t, 'kickstand_systems{state="registered"}'), 50);
    assert.deepEqual(calls, ['countSystems']);
  });

  test('power state is exported as counts kept as states change: no series per machine, no store call', async () => {
    const inner = memoryStore();
    const calls: string[] = [];
    const store = new Proxy(inner, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? (...args: unknown[]) => (calls.push(String(prop)), (v as (...a: unknown[]) => unknown).apply(target, args)) : v;
      },
    });
    const h = dashboardHarness({ store });
    for (let i = 0; i < 50; i++) {
      const name = `s${i}`;
      await inner.createSystem({ name, macs: [`00:16:3e:00:01:${i.toString(16).padStart(2, '0')}`], profile: 'el9-kvm' }, 1);
      await inner.setPowerSettings({ system: name, driver: 'ipmi', address: '10.0.0.5', user: null, secret: null, options: {} }, 1);
    }
    for (let i = 0; i < 20; i++) h.machines.machine(`s${i}`).state = 'on';
    h.machines.machine('s49').fail = 'unable to establish IPMI v2 / RMCP+ session';
    await h.power.refresh();
    calls.length = 0;
    let t = await scrape(h.app);
    assert.equal(sample(t, 'kickstand_power_systems{state="on"}'), 20);
    assert.equal(sample(t, 'kickstand_power_systems{state="off"}'), 29);
    assert.equal(sample(t, 'kickstand_power_systems{state="unknown"}'), 1);
    assert.doesNotMatch(t, /system="|s49/, 'no machine is named');
    assert.deepEqual(calls, ['countSystems']);
    // A deleted machine stops being counted at the next poll; a changed one at once.
    await inner.deleteSystem('s0');
    await h.power.refresh();
    await h.power.clearSettings('s1');
    t = await scrape(h.app);
    assert.equal(sample(t, 'kickstand_power_systems{state="on"}'), 18);
  });

  test('is served in the Prometheus text format without a token', async () => {
    const r = await request(dashboardHarness().app).get('/metrics');
    assert.equal(r.status, 200);
    assert.match(r.headers["content-type"]!, /^text\/plain/);
    assert.match(r.headers["content-type"]!, /version=0\.0\.4/);
    assert.match(r.text, /^# HELP kickstand_/m);
  });

  test('is 404 when the handler was built without metrics', async () => {
    const r = await request(harness().app).get('/metrics');
    assert.equal(r.status, 404);
    assert.equal(r.body.error.code, 'not_found');
  });
});

describe('Metrics hooks', () => {
  const dhcp = (over: Partial<DhcpStats> = {}): DhcpStats => ({ received: 10, malformed: 2, ignored: 3, replies: { offer: 4, ack: 1 }, poolFull: 1, overloaded: 0, sendErrors: 0, inFlight: 0, ...over });

  test('DHCP counters are read from stats() at each scrape, never added twice', async () => {
    const m = new Metrics();
    let s = dhcp({ leases: { size: 5, offered: 1, bound: 3, declined: 1 } });
    m.collectDhcp(() => s);
    let t = await m.render();
    assert.equal(sample(t, 'kickstand_dhcp_packets_received_total'), 10);
    assert.equal(sample(t, 'kickstand_dhcp_packets_dropped_total{reason="malformed"}'), 2);
    assert.equal(sample(t, 'kickstand_dhcp_packets_dropped_total{reason="overloaded"}'), 0);
    assert.equal(sample(t, 'kickstand_dhcp_requests_unanswered_total'), 3);
    assert.equal(sample(t, 'kickstand_dhcp_replies_total{type="offer"}'), 4);
    assert.equal(sample(t, 'kickstand_dhcp_replies_total{type="ack"}'), 1);
    assert.equal(sample(t, 'kickstand_dhcp_pool_full_total'), 1);
    assert.equal(sample(t, 'kickstand_dhcp_leases{state="bound"}'), 3);
    s = dhcp({ received: 12, replies: { offer: 5, ack: 2 } });
    t = await m.render();
    assert.equal(sample(t, 'kickstand_dhcp_packets_received_total'), 12);
    assert.equal(sample(t, 'kickstand_dhcp_replies_total{type="offer"}'), 5);
    assert.equal(sample(t, 'kickstand_dhcp_leases{state="bound"}'), undefined, 'proxy mode has no leases');
  });

  test('DHCP requests by type and result are counted per observeDhcp call', async () => {
    const m = new Metrics();
    m.observeDhcp('discover', 'offer');
    m.observeDhcp('discover', 'offer');
    m.observeDhcp('request', 'none');
    const t = await m.render();
    assert.equal(sample(t, 'kickstand_dhcp_requests_total{type="discover",result="offer"}'), 2);
    assert.equal(sample(t, 'kickstand_dhcp_requests_total{type="request",result="none"}'), 1);
  });

  test('TFTP transfers, bytes, retransmissions and failures come from stats(); durations from transfer events', async () => {
    const m = new Metrics();
    const stats: TftpStats = {
      transfersStarted: 9, transfersCompleted: 5, transfersFailed: 1, transfersAborted: 3, requestsRefused: 2, malformed: 1, wrongTid: 0, unanswered: 17, evicted: 6, deferred: 11,
      packetsSent: 700, bytesSent: 350_000, retransmissions: 4, duplicateAcks: 0, timeouts: 4, activeTransfers: 0, busyPollTurns: 1234,
    };
    m.collectTftp(() => stats);
    const summary = (outcome: TransferSummary['outcome'], durationMs: number): TransferSummary => ({ filename: 'pxelinux.0', remote: { address: '127.0.0.1', port: 1 }, outcome, reason: '', blksize: 1468, windowsize: 1, packets: 1, bytes: 1, retransmissions: 0, durationMs });
    m.observeTftp(summary('completed', 80));
    m.observeTftp(summary('completed', 3000));
    m.observeTftp(summary('failed', 20_000));
    const t = await m.render();
    assert.equal(sample(t, 'kickstand_tftp_transfers_total{outcome="completed"}'), 5);
    assert.equal(sample(t, 'kickstand_tftp_transfers_total{outcome="failed"}'), 1);
    assert.equal(sample(t, 'kickstand_tftp_transfers_total{outcome="aborted"}'), 3);
    assert.equal(sample(t, 'kickstand_tftp_bytes_sent_total'), 350_000);
    assert.equal(sample(t, 'kickstand_tftp_retransmissions_total'), 4);
    assert.equal(sample(t, 'kickstand_tftp_requests_refused_total'), 2);
    assert.equal(sample(t, 'kickstand_tftp_busy_poll_turns_total'), 1234);
    assert.equal(sample(t, 'kickstand_tftp_unanswered_total'), 17);
    assert.equal(sample(t, 'kickstand_tftp_evicted_total'), 6);
    assert.equal(sample(t, 'kickstand_tftp_deferred_total'), 11);
    assert.equal(sample(t, 'kickstand_tftp_transfer_duration_seconds_count{outcome="completed"}'), 2);
    assert.equal(sample(t, 'kickstand_tftp_transfer_duration_seconds_bucket{le="0.1",outcome="completed"}'), 1);
    assert.equal(sample(t, 'kickstand_tftp_transfer_duration_seconds_count{outcome="failed"}'), 1);
  });

  test('without stats sources nothing is invented', async () => {
    const t = await new Metrics().render();
    assert.equal(sample(t, 'kickstand_tftp_transfers_total{outcome="completed"}'), undefined);
    assert.equal(sample(t, 'kickstand_dhcp_replies_total{type="offer"}'), undefined);
  });

  test('each instance has its own registry and the global one stays empty of ours', async () => {
    const a = new Metrics();
    const b = new Metrics();
    a.observeHttp('healthz', 'GET', 200);
    assert.equal(sample(await a.render(), 'kickstand_http_requests_total{route="healthz",method="GET",status="200"}'), 1);
    assert.equal(sample(await b.render(), 'kickstand_http_requests_total{route="healthz",method="GET",status="200"}'), undefined);
    assert.ok(!(await globalRegistry.metrics()).includes('kickstand_'));
  });

  test('odd methods are bucketed and unknown paths share one route label, so labels stay few', async () => {
    const m = new Metrics();
    m.observeHttp('unmatched', 'BREW', 405);
    assert.equal(sample(await m.render(), 'kickstand_http_requests_total{route="unmatched",method="OTHER",status="405"}'), 1);
    assert.equal(routeLabel('/api/v1/systems/a/render/kickstart'), 'renderArtifact');
    assert.equal(routeLabel('/ui/systems/a'), 'dashboard');
    assert.equal(routeLabel('/api/v1/systems', 'POST'), 'createSystem');
    assert.equal(routeLabel('/api/v1/systems', 'GET'), 'listSystems');
    assert.equal(routeLabel('/wp-admin/x.php'), 'unmatched');
  });
});
