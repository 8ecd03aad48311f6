import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { decode } from '../../server/dhcp/packet.ts';
import { MsgType, Opt } from '../../server/dhcp/options.ts';
import { fixture, request, startServer, uefiDiscover, waitFor, linesFor, arch, pxeVendor, UUID_OPT, fakeBooter, type Harness } from './helpers.ts';

describe('proxy mode', () => {
  let h: Harness;
  const booter = fakeBooter();
  before(async () => {
    h = await startServer({ mode: 'proxy', booter });
  });
  after(() => h.close());

  test('a BIOS iPXE ROM (captured DISCOVER) gets an OFFER with no address, the script URL, 54, 60, 97 and 43', async () => {
    const discover = fixture('ipxe-bios-discover');
    const req = decode(discover);
    await h.client.send(discover, h.port);
    const r = await h.client.next(req.xid);
    assert.equal(r.options.messageType(), MsgType.OFFER);
    assert.equal(r.yiaddr, '0.0.0.0');
    assert.equal(r.siaddr, '127.0.0.1');
    assert.equal(r.file, 'http://127.0.0.1:8080/boot.ipxe?mac=52:54:00:12:34:56');
    assert.equal(r.options.ip(Opt.SERVER_ID), '127.0.0.1');
    assert.equal(r.options.string(Opt.VENDOR_CLASS), 'PXEClient');
    assert.deepEqual(r.options.get(Opt.CLIENT_UUID), req.options.get(Opt.CLIENT_UUID));
    assert.deepEqual([...r.options.get(Opt.VENDOR_SPECIFIC)!], [6, 1, 8, 255]);
    assert.equal(r.options.has(Opt.LEASE_TIME), false);
    assert.ok(booter.pxe.includes('52:54:00:12:34:56'));
    assert.ok(linesFor(h, '52:54:00:12:34:56', 'dhcp offer').length > 0);
  });

  test('a BIOS PXE ROM without iPXE gets pxelinux.0 and sub-option 6 = 8', async () => {
    const mac = '02:00:00:00:01:01';
    await h.client.send(request(MsgType.DISCOVER, { mac, xid: 11, options: [[Opt.CLIENT_ARCH, arch(0)], [Opt.VENDOR_CLASS, pxeVendor(0)], [Opt.CLIENT_UUID, UUID_OPT]] }), h.port);
    const r = await h.client.next(11);
    assert.equal(r.file, 'pxelinux.0');
    assert.deepEqual([...r.options.get(Opt.VENDOR_SPECIFIC)!], [6, 1, 8, 255]);
  });

  test('an EFI x64 client gets ipxe.efi and no BIOS vendor options', async () => {
    await h.client.send(uefiDiscover('02:00:00:00:01:02', 7, false, 12), h.port);
    const r = await h.client.next(12);
    assert.equal(r.options.messageType(), MsgType.OFFER);
    assert.equal(r.file, 'ipxe.efi');
    assert.equal(r.options.has(Opt.VENDOR_SPECIFIC), false);
    assert.deepEqual(r.options.get(Opt.CLIENT_UUID), UUID_OPT);
  });

  test('a UEFI HTTP client gets an HTTP URL and option 60 HTTPClient', async () => {
    await h.client.send(uefiDiscover('02:00:00:00:01:03', 0x10, true, 13), h.port);
    const r = await h.client.next(13);
    assert.equal(r.file, 'http://127.0.0.1:8080/ipxe.efi');
    assert.equal(r.options.string(Opt.VENDOR_CLASS), 'HTTPClient');
    assert.equal(r.yiaddr, '0.0.0.0');
  });

  test('a REQUEST to port 4011 gets an ACK sent back to its source', async () => {
    const mac = '02:00:00:00:01:04';
    const req = request(MsgType.REQUEST, { mac, xid: 14, ciaddr: '127.0.0.1', options: [[Opt.CLIENT_ARCH, arch(7)], [Opt.VENDOR_CLASS, pxeVendor(7)], [Opt.CLIENT_UUID, UUID_OPT]] });
    await h.client.send(req, h.proxyPort!);
    const r = await h.client.next(14);
    assert.equal(r.options.messageType(), MsgType.ACK);
    assert.equal(r.file, 'ipxe.efi');
    assert.equal(r.ciaddr, '127.0.0.1');
    assert.equal(r.options.string(Opt.VENDOR_CLASS), 'PXEClient');
  });

  test('non-PXE clients (dhclient, udhcpc) get no answer and a logged reason', async () => {
    for (const name of ['dhclient-discover', 'udhcpc-discover']) {
      const buf = fixture(name);
      const mac = decode(buf).chaddr.subarray(0, 6).toString('hex').match(/../g)!.join(':');
      const before = linesFor(h, mac, 'dhcp no reply').length;
      await h.client.send(buf, h.port);
      await waitFor(() => linesFor(h, mac, 'dhcp no reply').length > before, `${name} refusal`);
      assert.match(String(linesFor(h, mac, 'dhcp no reply').at(-1)!.reason), /not a pxe client/);
    }
    assert.equal(h.client.replies.length, 0);
  });

  test('a PXEClient without option 93 is refused with the reason', async () => {
    const mac = '02:00:00:00:01:05';
    await h.client.send(request(MsgType.DISCOVER, { mac, xid: 15, options: [[Opt.VENDOR_CLASS, pxeVendor(0)]] }), h.port);
    await waitFor(() => linesFor(h, mac, 'dhcp no reply').length > 0, 'refusal');
    assert.match(String(linesFor(h, mac, 'dhcp no reply')[0].reason), /no option 93/);
    assert.equal(h.client.replies.length, 0);
  });

  test("a REQUEST on port 67 for the network's own server is left alone", async () => {
    const mac = '02:00:00:00:01:06';
    await h.client.send(request(MsgType.REQUEST, { mac, xid: 16, options: [[Opt.SERVER_ID, [127, 0, 0, 9]], [Opt.CLIENT_ARCH, arch(0)], [Opt.VENDOR_CLASS, pxeVendor(0)]] }), h.port);
    await waitFor(() => linesFor(h, mac, 'dhcp no reply').length > 0, 'refusal');
    assert.equal(h.client.replies.length, 0);
  });
});
