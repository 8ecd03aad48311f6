import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode, DhcpDecodeError, packetMac, HEADER_BYTES } from '../../server/dhcp/packet.ts';
import { MsgType, Opt, parseUserClass } from '../../server/dhcp/options.ts';
import { clientInfo } from '../../server/dhcp/client-info.ts';
import { fixture, request } from './helpers.ts';

describe('decoding captured client requests', () => {
  test('the iPXE PXE ROM DISCOVER carries 60/77/93/94/97/175 and reads as a BIOS iPXE client', () => {
    const p = decode(fixture('ipxe-bios-discover'));
    assert.equal(p.options.messageType(), MsgType.DISCOVER);
    assert.equal(packetMac(p), '52:54:00:12:34:56');
    assert.equal(p.options.string(Opt.VENDOR_CLASS), 'PXEClient:Arch:00000:UNDI:002001');
    assert.deepEqual([...p.options.get(Opt.CLIENT_NDI)!], [1, 2, 1]);
    assert.equal(p.options.u16(Opt.MAX_SIZE), 1472);
    assert.ok(p.options.get(Opt.IPXE_ENCAP)!.length > 0);
    const c = clientInfo(p);
    assert.equal(c.arch, 0);
    assert.equal(c.isPxe, true);
    assert.equal(c.isIpxe, true);
    assert.deepEqual(c.userClass, ['iPXE']);
    assert.equal(c.uuid, '7e0a4d56-3b2f-1d4c-9e8f-0a1b2c3d4e5f');
    assert.equal(c.relay, null);
  });

  test('the iPXE REQUEST names the server (54) and the address (50)', () => {
    const p = decode(fixture('ipxe-bios-request'));
    assert.equal(p.options.messageType(), MsgType.REQUEST);
    assert.equal(p.options.ip(Opt.SERVER_ID), '10.231.0.1');
    assert.equal(p.options.ip(Opt.REQUESTED_IP), '10.231.0.58');
  });

  test("dhclient's DISCOVER and REQUEST read as a plain, non-PXE client", () => {
    const d = decode(fixture('dhclient-discover'));
    assert.equal(d.options.messageType(), MsgType.DISCOVER);
    assert.ok(d.options.get(Opt.PARAM_REQUEST)!.includes(Opt.SUBNET_MASK));
    const c = clientInfo(d);
    assert.equal(c.isPxe, false);
    assert.equal(c.isIpxe, false);
    assert.equal(c.arch, null);
    const r = decode(fixture('dhclient-request'));
    assert.equal(r.options.messageType(), MsgType.REQUEST);
    assert.equal(r.options.ip(Opt.SERVER_ID), '10.231.0.1');
    assert.equal(r.options.ip(Opt.REQUESTED_IP), '10.231.0.89');
    assert.equal(r.ciaddr, '0.0.0.0');
  });

  test("udhcpc's DISCOVER and REQUEST carry its vendor class, client id and max size", () => {
    const d = decode(fixture('udhcpc-discover'));
    assert.equal(d.options.string(Opt.VENDOR_CLASS), 'udhcp 1.35.0');
    assert.equal(d.options.u16(Opt.MAX_SIZE), 576);
    assert.equal(d.options.get(Opt.CLIENT_ID)![0], 1);
    assert.deepEqual(d.options.get(Opt.CLIENT_ID)!.subarray(1), d.chaddr.subarray(0, 6));
    assert.equal(d.options.string(Opt.HOSTNAME), 'capture');
    const r = decode(fixture('udhcpc-request'));
    assert.equal(r.options.messageType(), MsgType.REQUEST);
    assert.equal(r.options.ip(Opt.REQUESTED_IP), '10.231.0.89');
  });

  test('every fixture survives encode(decode(bytes)) with the same header and options', () => {
    for (const name of ['ipxe-bios-discover', 'ipxe-bios-request', 'dhclient-discover', 'dhclient-request', 'udhcpc-discover', 'udhcpc-request']) {
      const a = decode(fixture(name));
      const b = decode(encode(a));
      assert.equal(b.xid, a.xid, name);
      assert.deepEqual(b.chaddr, a.chaddr, name);
      assert.deepEqual([...b.options.raw], [...a.options.raw], name);
    }
  });
});

describe('encoding', () => {
  test('an option longer than 255 bytes is split into several and concatenated back (RFC 3396)', () => {
    const long = Buffer.alloc(600, 7);
    const buf = request(MsgType.DISCOVER, { mac: '02:00:00:00:00:01', options: [[Opt.BOOTFILE, long]] });
    let count = 0;
    for (let i = HEADER_BYTES + 4; buf[i] !== Opt.END; i += buf[i] === 0 ? 1 : 2 + buf[i + 1]) if (buf[i] === Opt.BOOTFILE) count++;
    assert.equal(count, 3);
    assert.deepEqual(decode(buf).options.get(Opt.BOOTFILE), long);
  });

  test('packets are padded to the 300-byte BOOTP minimum and put option 53 first', () => {
    const buf = request(MsgType.DISCOVER, { mac: '02:00:00:00:00:01', options: [[Opt.HOSTNAME, 'x']] });
    assert.equal(buf.length, 300);
    assert.equal(buf[HEADER_BYTES + 4], Opt.MESSAGE_TYPE);
  });
});

describe('option overload (52)', () => {
  /** Returns a DISCOVER whose file (1), sname (2) or both (3) fields hold options. */
  function overloaded(value: number): Buffer {
    const buf = request(MsgType.DISCOVER, { mac: '02:00:00:00:00:02', options: [[Opt.OVERLOAD, [value]]] });
    Buffer.from([Opt.HOSTNAME, 4, ...Buffer.from('file'), Opt.END]).copy(buf, 108);
    Buffer.from([Opt.VENDOR_CLASS, 5, ...Buffer.from('sname'), Opt.END]).copy(buf, 44);
    return buf;
  }

  test('options in the file and sname fields are read, and those fields are not taken as names', () => {
    const p = decode(overloaded(3));
    assert.equal(p.options.string(Opt.HOSTNAME), 'file');
    assert.equal(p.options.string(Opt.VENDOR_CLASS), 'sname');
    assert.equal(p.file, '');
    assert.equal(p.sname, '');
  });

  test('overload 1 reads only the file field', () => {
    const p = decode(overloaded(1));
    assert.equal(p.options.string(Opt.HOSTNAME), 'file');
    assert.equal(p.options.has(Opt.VENDOR_CLASS), false);
  });

  test('a bad overload value or length is a decode error', () => {
    assert.throws(() => decode(overloaded(4)), DhcpDecodeError);
    const buf = request(MsgType.DISCOVER, { mac: '02:00:00:00:00:02', options: [[Opt.OVERLOAD, [1, 1]]] });
    assert.throws(() => decode(buf), /option 52/);
  });

  test('option 52 inside an overloaded field is a decode error', () => {
    const buf = overloaded(1);
    Buffer.from([Opt.OVERLOAD, 1, 2, Opt.END]).copy(buf, 108);
    assert.throws(() => decode(buf), /only allowed in the options field/);
  });
});

describe('malformed packets are decode errors', () => {
  const good = () => Buffer.from(fixture('dhclient-discover'));
  const cases: Array<[string, () => Buffer, RegExp]> = [
    ['truncated header', () => good().subarray(0, 200), /truncated/],
    ['wrong hardware length for ethernet', () => { const b = good(); b[2] = 7; return b; }, /hardware length "7"/],
    ['hardware length over 16', () => { const b = good(); b[1] = 32; b[2] = 20; return b; }, /hardware length "20"/],
    ['bad magic cookie', () => { const b = good(); b[236] = 0; return b; }, /magic cookie/],
    ['an option overrunning the packet', () => { const b = good(); b[241] = 255; return b.subarray(0, 260); }, /overruns/],
    ['a huge packet', () => Buffer.concat([good(), Buffer.alloc(2000)]), /larger than/],
    ['a bad op', () => { const b = good(); b[0] = 9; return b; }, /bad op "9"/],
  ];
  for (const [name, make, re] of cases) {
    test(name, () => {
      assert.throws(() => decode(make()), (err: unknown) => err instanceof DhcpDecodeError && re.test((err as Error).message));
    });
  }

  test('a missing END after complete options is tolerated', () => {
    const b = request(MsgType.DISCOVER, { mac: '02:00:00:00:00:03' }).subarray(0, 243);
    assert.equal(decode(b).options.messageType(), MsgType.DISCOVER);
  });
});

describe('user class (77)', () => {
  test('raw "iPXE" and RFC 3004 length-prefixed forms both read as iPXE', () => {
    assert.deepEqual(parseUserClass(Buffer.from('iPXE')), ['iPXE']);
    assert.deepEqual(parseUserClass(Buffer.from([4, ...Buffer.from('iPXE'), 3, ...Buffer.from('foo')])), ['iPXE', 'foo']);
    const p = decode(request(MsgType.DISCOVER, { mac: '02:00:00:00:00:04', options: [[Opt.USER_CLASS, [4, ...Buffer.from('iPXE')]]] }));
    assert.equal(clientInfo(p).isIpxe, true);
  });
});
