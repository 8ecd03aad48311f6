// The BOOTP/DHCP packet codec (RFC 2131 section 2, RFC 951). decode() accepts only well-formed
// packets and throws DhcpDecodeError for anything else; encode() writes a packet with options
// split per RFC 3396 and padded to the 300-byte BOOTP minimum that older clients expect.
import { BadRequestError } from '../errors.ts';
import { formatMac, readIp, writeIp } from './addr.ts';
import { DhcpOptions, Opt } from './options.ts';

/** The fixed header is 236 bytes; the magic cookie (RFC 2131 section 3) follows it. */
export const HEADER_BYTES = 236;
export const MAGIC_COOKIE = 0x63825363;
/** Packets longer than this are refused as malformed (an Ethernet MTU holds every real request). */
export const MAX_PACKET_BYTES = 1500;
/** RFC 2131 section 2: the smallest packet every client must accept is 576 bytes of IP; BOOTP relays expect 300 of payload. */
export const MIN_ENCODED_BYTES = 300;

export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;

/** A decoded or to-be-encoded DHCP packet. Addresses are dotted strings, chaddr the raw 16 bytes. */
export interface DhcpPacket {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  chaddr: Buffer;
  /** Server host name field (empty when overloaded with options). */
  sname: string;
  /** Boot file field (empty when overloaded with options). */
  file: string;
  options: DhcpOptions;
}

/** A packet that cannot be decoded: truncated, bad lengths, overrunning options, bad overload. */
export class DhcpDecodeError extends BadRequestError {}

/** Returns the MAC of a packet's chaddr as aa:bb:… (hlen bytes, at most 16). */
export function packetMac(p: DhcpPacket): string {
  return formatMac(p.chaddr, Math.min(p.hlen, 16));
}

/** Returns true when the broadcast bit (RFC 2131 section 2, flags) is set. */
export function wantsBroadcast(p: DhcpPacket): boolean {
  return (p.flags & 0x8000) !== 0;
}

/** Reads a NUL-terminated latin1 field. */
function cstring(buf: Buffer, start: number, len: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString('latin1', start, end === -1 || end > start + len ? start + len : end);
}

/**
 * Walks the options TLVs of buf[start, end) into opts, concatenating repeats (RFC 3396). Returns
 * the overload value when option 52 was met (only allowed in the options field). A missing END is
 * tolerated when the last option is complete; an option running past `end` is an error.
 */
function walkOptions(buf: Buffer, start: number, end: number, opts: DhcpOptions, where: string, allowOverload: boolean): number {
  let i = start;
  let overload = 0;
  while (i < end) {
    const code = buf[i];
    if (code === Opt.PAD) {
      i++;
      continue;
    }
    if (code === Opt.END) return overload;
    if (i + 1 >= end) throw new DhcpDecodeError(`dhcp option ${code} in ${where}: length byte missing at offset ${i}`);
    const len = buf[i + 1];
    if (i + 2 + len > end) throw new DhcpDecodeError(`dhcp option ${code} in ${where}: length ${len} overruns the field at offset ${i}`);
    if (code === Opt.OVERLOAD) {
      if (!allowOverload) throw new DhcpDecodeError(`dhcp option 52 (overload) inside ${where}: only allowed in the options field`);
      if (len !== 1 || buf[i + 2] < 1 || buf[i + 2] > 3) {
        throw new DhcpDecodeError(`dhcp option 52 (overload): bad value "${buf.toString('hex', i + 2, i + 2 + len)}"`);
      }
      overload = buf[i + 2];
    } else {
      opts.append(code, buf.subarray(i + 2, i + 2 + len));
    }
    i += 2 + len;
  }
  return overload;
}

/** Returns the packet held in buf; throws DhcpDecodeError when it is malformed. */
export function decode(buf: Buffer, maxBytes = MAX_PACKET_BYTES): DhcpPacket {
  if (buf.length > maxBytes) throw new DhcpDecodeError(`dhcp packet of ${buf.length} bytes: larger than ${maxBytes}`);
  if (buf.length < HEADER_BYTES + 4) throw new DhcpDecodeError(`dhcp packet of ${buf.length} bytes: truncated (need ${HEADER_BYTES + 4})`);
  const op = buf[0];
  const htype = buf[1];
  const hlen = buf[2];
  if (op !== BOOTREQUEST && op !== BOOTREPLY) throw new DhcpDecodeError(`dhcp packet: bad op "${op}"`);
  if (hlen === 0 || hlen > 16) throw new DhcpDecodeError(`dhcp packet: bad hardware length "${hlen}"`);
  if (htype === 1 && hlen !== 6) throw new DhcpDecodeError(`dhcp packet: ethernet hardware length "${hlen}", expected 6`);
  if (buf.readUInt32BE(HEADER_BYTES) !== MAGIC_COOKIE) {
    throw new DhcpDecodeError(`dhcp packet: bad magic cookie "${buf.toString('hex', HEADER_BYTES, HEADER_BYTES + 4)}"`);
  }
  const options = new DhcpOptions();
  const overload = walkOptions(buf, HEADER_BYTES + 4, buf.length, options, 'options', true);
  // RFC 3396 section 7 / RFC 2131 section 4.1: options field first, then file, then sname.
  if (overload & 1) walkOptions(buf, 108, 236, options, 'file', false);
  if (overload & 2) walkOptions(buf, 44, 108, options, 'sname', false);
  return {
    op,
    htype,
    hlen,
    hops: buf[3],
    xid: buf.readUInt32BE(4),
    secs: buf.readUInt16BE(8),
    flags: buf.readUInt16BE(10),
    ciaddr: readIp(buf, 12),
    yiaddr: readIp(buf, 16),
    siaddr: readIp(buf, 20),
    giaddr: readIp(buf, 24),
    chaddr: Buffer.from(buf.subarray(28, 44)),
    sname: overload & 2 ? '' : cstring(buf, 44, 64),
    file: overload & 1 ? '' : cstring(buf, 108, 128),
    options,
  };
}

/** Returns the wire bytes of an option set: message type first, long values split (RFC 3396), END last. */
export function encodeOptions(options: DhcpOptions): Buffer {
  const codes = [...options.raw.keys()].filter((c) => c !== Opt.PAD && c !== Opt.END);
  codes.sort((a, b) => (a === Opt.MESSAGE_TYPE ? -1 : b === Opt.MESSAGE_TYPE ? 1 : 0));
  let size = 1;
  for (const c of codes) {
    const len = options.raw.get(c)!.length;
    size += len === 0 ? 2 : len + 2 * Math.ceil(len / 255);
  }
  const out = Buffer.alloc(size);
  let o = 0;
  for (const c of codes) {
    const v = options.raw.get(c)!;
    let i = 0;
    do {
      const n = Math.min(255, v.length - i);
      out[o++] = c;
      out[o++] = n;
      v.copy(out, o, i, i + n);
      o += n;
      i += n;
    } while (i < v.length);
  }
  out[o] = Opt.END;
  return out;
}

/** Returns the wire bytes of a packet; throws when sname or file do not fit their fields. */
export function encode(p: DhcpPacket): Buffer {
  const opts = encodeOptions(p.options);
  const buf = Buffer.alloc(Math.max(MIN_ENCODED_BYTES, HEADER_BYTES + 4 + opts.length));
  buf[0] = p.op;
  buf[1] = p.htype;
  buf[2] = p.hlen;
  buf[3] = p.hops;
  buf.writeUInt32BE(p.xid >>> 0, 4);
  buf.writeUInt16BE(p.secs & 0xffff, 8);
  buf.writeUInt16BE(p.flags & 0xffff, 10);
  writeIp(buf, 12, p.ciaddr);
  writeIp(buf, 16, p.yiaddr);
  writeIp(buf, 20, p.siaddr);
  writeIp(buf, 24, p.giaddr);
  p.chaddr.copy(buf, 28, 0, Math.min(16, p.chaddr.length));
  if (Buffer.byteLength(p.sname, 'latin1') > 63) throw new BadRequestError(`dhcp sname "${p.sname}": longer than 63 bytes`);
  if (Buffer.byteLength(p.file, 'latin1') > 127) throw new BadRequestError(`dhcp file "${p.file}": longer than 127 bytes`);
  buf.write(p.sname, 44, 'latin1');
  buf.write(p.file, 108, 'latin1');
  buf.writeUInt32BE(MAGIC_COOKIE, HEADER_BYTES);
  opts.copy(buf, HEADER_BYTES + 4);
  return buf;
}
