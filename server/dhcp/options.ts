// DHCP options (RFC 2132): the code catalogue, a container keeping each option's raw bytes with
// typed accessors, and the TLV walk used for the options field and, under overload, file and sname.
import { formatMac, readIp, ipBytes } from './addr.ts';

/** Option codes kickstand reads or writes. */
export const Opt = {
  PAD: 0,
  SUBNET_MASK: 1,
  ROUTER: 3,
  DNS: 6,
  HOSTNAME: 12,
  DOMAIN: 15,
  BROADCAST: 28,
  VENDOR_SPECIFIC: 43,
  REQUESTED_IP: 50,
  LEASE_TIME: 51,
  OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAM_REQUEST: 55,
  MESSAGE: 56,
  MAX_SIZE: 57,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  VENDOR_CLASS: 60,
  CLIENT_ID: 61,
  TFTP_SERVER: 66,
  BOOTFILE: 67,
  USER_CLASS: 77,
  RELAY_AGENT: 82,
  CLIENT_ARCH: 93,
  CLIENT_NDI: 94,
  CLIENT_UUID: 97,
  IPXE_ENCAP: 175,
  END: 255,
} as const;

/** DHCP message types (option 53, RFC 2132 section 9.6). */
export const MsgType = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;

/** Returns the lower-case name of a message type number, for logs. */
export function msgTypeName(t: number | null): string {
  const names = ['', 'discover', 'offer', 'request', 'decline', 'ack', 'nak', 'release', 'inform'];
  return t !== null && t >= 1 && t <= 8 ? names[t] : `type-${t}`;
}

/** Options of one packet: raw bytes per code, in the order first seen, with typed accessors. */
export class DhcpOptions {
  readonly raw = new Map<number, Buffer>();

  /** Returns the raw bytes of an option, or undefined. */
  get(code: number): Buffer | undefined {
    return this.raw.get(code);
  }

  /** Returns true when the option is present. */
  has(code: number): boolean {
    return this.raw.has(code);
  }

  /** Sets an option's raw bytes (replacing any earlier value); returns this for chaining. */
  set(code: number, value: Buffer): this {
    this.raw.set(code, value);
    return this;
  }

  /** Appends bytes to an option, as RFC 3396 concatenation of repeated options does. */
  append(code: number, value: Buffer): void {
    const old = this.raw.get(code);
    this.raw.set(code, old ? Buffer.concat([old, value]) : value);
  }

  /** Deletes an option. */
  delete(code: number): void {
    this.raw.delete(code);
  }

  /** Returns a one-byte option's value, or null when absent or not one byte. */
  u8(code: number): number | null {
    const v = this.raw.get(code);
    return v && v.length === 1 ? v[0] : null;
  }

  /** Returns a two-byte option's value, or null when absent or not two bytes. */
  u16(code: number): number | null {
    const v = this.raw.get(code);
    return v && v.length === 2 ? v.readUInt16BE(0) : null;
  }

  /** Returns a four-byte option's value, or null when absent or not four bytes. */
  u32(code: number): number | null {
    const v = this.raw.get(code);
    return v && v.length === 4 ? v.readUInt32BE(0) : null;
  }

  /** Returns a one-address option as a dotted string, or null when absent or not four bytes. */
  ip(code: number): string | null {
    const v = this.raw.get(code);
    return v && v.length === 4 ? readIp(v, 0) : null;
  }

  /** Returns an option as text (latin1, trailing NULs dropped), or null when absent. */
  string(code: number): string | null {
    const v = this.raw.get(code);
    if (!v) return null;
    let end = v.length;
    while (end > 0 && v[end - 1] === 0) end--;
    return v.toString('latin1', 0, end);
  }

  /** Returns the DHCP message type (option 53), or null. */
  messageType(): number | null {
    return this.u8(Opt.MESSAGE_TYPE);
  }

  /** Sets a one-byte option. */
  setU8(code: number, n: number): this {
    return this.set(code, Buffer.from([n & 255]));
  }

  /** Sets a four-byte option. */
  setU32(code: number, n: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n >>> 0, 0);
    return this.set(code, b);
  }

  /** Sets an option holding one or more addresses. */
  setIps(code: number, ips: string[]): this {
    return this.set(code, Buffer.concat(ips.map(ipBytes)));
  }

  /** Sets a text option. */
  setString(code: number, s: string): this {
    return this.set(code, Buffer.from(s, 'latin1'));
  }
}

/** Returns the user classes of option 77: RFC 3004 length-prefixed items, or the raw text as one item (iPXE). */
export function parseUserClass(v: Buffer | undefined): string[] {
  if (!v || v.length === 0) return [];
  const items: string[] = [];
  let i = 0;
  while (i < v.length) {
    const len = v[i];
    if (len === 0 || i + 1 + len > v.length) return [v.toString('latin1')];
    items.push(v.toString('latin1', i + 1, i + 1 + len));
    i += 1 + len;
  }
  return items;
}

/** Returns the UUID of option 97 (type 0 + 16 bytes, RFC 4578 section 2.3) as 8-4-4-4-12 hex, or null. */
export function parseClientUuid(v: Buffer | undefined): string | null {
  if (!v || v.length !== 17 || v[0] !== 0) return null;
  const h = v.toString('hex', 1);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Returns the client identifier (option 61) as type-prefixed hex, e.g. `01:aa:bb:…`, or null. */
export function parseClientId(v: Buffer | undefined): string | null {
  return v && v.length > 0 ? formatMac(v) : null;
}
