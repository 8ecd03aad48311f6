// Interface binding: a server given interfaces ties every socket to them (SO_BINDTODEVICE through
// native/netbind) and answers from there; a name that is no interface is one clear error naming
// dhcp.interface, before any socket is left open. (Traffic from another interface being ignored
// needs a second interface: test/system/dhcp-interfaces.test.ts proves it in namespaces.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../server/errors.ts';
import { MsgType } from '../../server/dhcp/options.ts';
import { DeviceBindError, openDeviceSocket, interfaceIpv4 } from '../../server/net/device-socket.ts';
import { request, startServer } from './helpers.ts';

test('a server bound to interface lo answers a DISCOVER on it, from its address', async () => {
  const h = await startServer({ mode: 'full', interfaces: ['lo'] });
  try {
    await h.client.send(request(MsgType.DISCOVER, { mac: '02:00:00:00:0b:01', xid: 0xb001 }), h.port);
    const offer = await h.client.next(0xb001);
    assert.equal(offer.options.messageType(), MsgType.OFFER);
    const listening = h.lines().find((l) => l.msg === 'dhcp listening')!;
    assert.deepEqual(listening.interfaces, ['lo (127.0.0.1)']);
    const sent = h.lines().find((l) => l.msg === 'dhcp offer')!;
    assert.equal(sent.interface, 'lo');
  } finally {
    await h.close();
  }
});

test('an interface name that does not exist is one ConfigError naming dhcp.interface, and nothing stays bound', async () => {
  const err = await startServer({ mode: 'proxy', interfaces: ['lo', 'ks-nope0'] }).then(
    () => assert.fail('listen() should have failed'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ConfigError, String(err));
  assert.equal(err.field, 'dhcp.interface');
  assert.match(err.message, /^dhcp\.interface: interface "ks-nope0" does not exist \(this host has: .*\blo\b/);
  // The sockets opened on lo before the failure were closed: lo can be bound again on a fixed port.
  const again = await startServer({ mode: 'proxy', interfaces: ['lo'] });
  await again.close();
});

test('the addon refuses a missing interface at SO_BINDTODEVICE with a DeviceBindError (no-device)', async () => {
  assert.equal(interfaceIpv4('ks-nope0'), null);
  const err = await openDeviceSocket({ iface: 'ks-nope0', address: '0.0.0.0', port: 0 }).then(
    () => assert.fail('should not bind'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof DeviceBindError, String(err));
  assert.equal(err.reason, 'no-device');
  assert.equal(err.errnoName, 'ENODEV');
  assert.match(err.message, /interface "ks-nope0" does not exist/);
});

test('a port already bound on the interface is a bind error naming the address, port and interface', async () => {
  const first = await openDeviceSocket({ iface: 'lo', address: '127.0.0.1', port: 0 });
  try {
    const port = first.address().port;
    const err = await openDeviceSocket({ iface: 'lo', address: '127.0.0.1', port }).then(
      () => assert.fail('should not bind twice'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof DeviceBindError, String(err));
    assert.equal(err.reason, 'bind-failed');
    assert.equal(err.message, `127.0.0.1:${port} on interface "lo": address in use (EADDRINUSE): is another DHCP server running on it?`);
  } finally {
    first.close();
  }
});

test('a second server on the same interface and port fails to start instead of sharing the port', async () => {
  const first = await startServer({ mode: 'full', interfaces: ['lo'] });
  try {
    await assert.rejects(
      startServer({ mode: 'full', interfaces: ['lo'], ports: { server: first.port, client: first.client.port, proxy: 0 } }),
      new RegExp(`0\\.0\\.0\\.0:${first.port} on interface "lo": address in use`),
    );
  } finally {
    await first.close();
  }
});

test('malformed packets are dropped with one warn line per interval that counts the rest, and a good request is still answered', async () => {
  let now = 1_000_000;
  const h = await startServer({ mode: 'full', interfaces: ['lo'], clock: () => now, malformedLogIntervalMs: 60_000 });
  try {
    const dropped = () => h.lines().filter((l) => l.msg === 'dhcp packet dropped');
    for (let i = 0; i < 50; i++) await h.client.send(Buffer.from('not a dhcp packet at all'), h.port);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(h.server.stats().malformed, 50);
    assert.equal(dropped().length, 1);
    assert.equal(dropped()[0].level, 40);
    assert.equal(dropped()[0].suppressed, 0);
    now += 60_000;
    await h.client.send(Buffer.alloc(10), h.port);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(dropped().length, 2);
    assert.equal(dropped()[1].suppressed, 49);
    await h.client.send(request(MsgType.DISCOVER, { mac: '02:00:00:00:0b:02', xid: 0xb002 }), h.port);
    assert.equal((await h.client.next(0xb002)).options.messageType(), MsgType.OFFER);
  } finally {
    await h.close();
  }
});
