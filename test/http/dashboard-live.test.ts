import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { get, type IncomingMessage } from 'node:http';
import request from 'supertest';
import { EventBus } from '../../server/http/dashboard/bus.ts';
import { listen } from '../../server/http/server.ts';
import { ADMIN, NG, csrfOf, dashboardHarness } from './dashboard-harness.ts';

/** Logs in through the form and returns the session cookie pair. */
async function sessionCookie(app: ReturnType<typeof dashboardHarness>['app']): Promise<string> {
  const form = await request(app).get('/ui/login');
  const loginCookie = String(form.headers['set-cookie']).split(';')[0]!;
  const r = await request(app).post('/ui/login').set('Cookie', loginCookie).type('form').send({ _csrf: csrfOf(form.text), token: ADMIN });
  const set = r.headers['set-cookie'] as unknown as string[];
  return set.find((c) => c.startsWith('kickstand_session='))!.split(';')[0]!;
}

/** Reads an SSE stream, resolving each message as it arrives. */
function reader(res: IncomingMessage) {
  let buf = '';
  const waiting: Array<{ match: (m: string) => boolean; resolve: (m: string) => void }> = [];
  const seen: string[] = [];
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const msg = buf.slice(0, i);
      buf = buf.slice(i + 2);
      seen.push(msg);
      for (const w of [...waiting]) if (w.match(msg)) (waiting.splice(waiting.indexOf(w), 1), w.resolve(msg));
    }
  });
  return {
    next(match: (m: string) => boolean): Promise<string> {
      const hit = seen.find(match);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve) => waiting.push({ match, resolve }));
    },
    ended: new Promise<void>((resolve) => res.on('end', resolve)),
  };
}

function open(port: number, cookie: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => get({ host: '127.0.0.1', port, path: '/ui/events', headers: { cookie } }, resolve).on('error', reject));
}

describe('dashboard live updates', () => {
  test('a report from a guest reaches an open stream as one system message with the new badge and the event', async () => {
    const h = dashboardHarness();
    await h.store.createSystem({ ...NG }, h.clock.now);
    const { token } = await h.lifecycle.arm(NG.name, null);
    const cookie = await sessionCookie(h.app);
    const { server, port } = await listen(h.app, '127.0.0.1', 0);
    try {
      const res = await open(port, cookie);
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /^text\/event-stream/);
      const sse = reader(res);
      await sse.next((m) => m.includes(': connected'));
      h.clock.now += 30_000;
      await request(h.app).post(`/events/${token}/partitioned`).send('two disks\n<b>ready</b>').expect(200);
      const msg = await sse.next((m) => m.startsWith('event: system'));
      const lines = msg.split('\n');
      assert.equal(lines.length, 3, 'event, id and one data line: a newline in a message cannot split it');
      const data = JSON.parse(lines[2]!.slice('data: '.length));
      assert.equal(data.system, NG.name);
      assert.deepEqual(data.badge, { label: 'installing: partitioned', cls: 'installing' });
      assert.equal(data.event.stage, 'partitioned');
      assert.equal(data.event.message, 'two disks\n<b>ready</b>');
      assert.equal(data.event.run, 1);
      assert.equal(data.event.time, '2026-11-24 08:00:30');
      assert.equal(h.bus.size, 1);
      res.destroy();
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  test('a stream closes once its session is logged out', async () => {
    const h = dashboardHarness({ heartbeatMs: 20 });
    const cookie = await sessionCookie(h.app);
    const { server, port } = await listen(h.app, '127.0.0.1', 0);
    try {
      const res = await open(port, cookie);
      const sse = reader(res);
      await sse.next((m) => m.includes(': connected'));
      const page = await request(h.app).get('/ui/').set('Cookie', cookie);
      await request(h.app).post('/ui/logout').set('Cookie', cookie).type('form').send({ _csrf: csrfOf(page.text) }).expect(303);
      await sse.ended;
      assert.equal(h.bus.size, 0, 'the stream unsubscribed');
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  test('streams past the limit are refused with 503 and a retry hint', async () => {
    const h = dashboardHarness({ maxStreams: 1 });
    const cookie = await sessionCookie(h.app);
    const { server, port } = await listen(h.app, '127.0.0.1', 0);
    try {
      const first = await open(port, cookie);
      assert.equal(first.statusCode, 200);
      const second = await open(port, cookie);
      assert.equal(second.statusCode, 503);
      assert.equal(second.headers['retry-after'], '5');
      second.resume();
      first.destroy();
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  test('a stream without a session is 401', async () => {
    const r = await request(dashboardHarness().app).get('/ui/events');
    assert.equal(r.status, 401);
  });
});

describe('event bus', () => {
  const system = { name: 'a' } as never;
  const event = { id: 1, stage: 'built' } as never;

  test('a subscriber that throws neither reaches the publisher nor stops the others', () => {
    const bus = new EventBus();
    const got: string[] = [];
    bus.subscribe(() => {
      throw new Error('browser gone');
    });
    bus.subscribe((s: { name: string }) => void got.push(s.name));
    assert.doesNotThrow(() => bus.publish(system, event));
    assert.deepEqual(got, ['a']);
  });

  test('unsubscribing stops delivery', () => {
    const bus = new EventBus();
    let n = 0;
    const off = bus.subscribe(() => void n++);
    bus.publish(system, event);
    off();
    bus.publish(system, event);
    assert.equal(n, 1);
    assert.equal(bus.size, 0);
  });
});
