// IPv4 and MAC address helpers shared by the codec, the lease pool and the serve loop. IPv4
// addresses travel as dotted strings at the edges and as unsigned 32-bit numbers inside the pool.

/** Returns the unsigned 32-bit number for a dotted IPv4 string, or null when it is not one. */
export function ipToInt(ip: string): number | null {
  // Hand-rolled (no split, no regex): it runs several times for every packet answered.
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || part > 255 || ++dots > 3) return null;
      n = n * 256 + part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      part = part * 10 + (c - 48);
      digits++;
    } else {
      return null;
    }
  }
  if (dots !== 3 || digits === 0 || part > 255) return null;
  return n * 256 + part;
}

/** Returns the dotted IPv4 string for an unsigned 32-bit number. */
export function intToIp(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** Returns the dotted IPv4 string read from 4 bytes of buf at offset. */
export function readIp(buf: Buffer, offset: number): string {
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
}

/** Writes a dotted IPv4 string as 4 bytes into buf at offset (0.0.0.0 when it is not an address). */
export function writeIp(buf: Buffer, offset: number, ip: string): void {
  buf.writeUInt32BE(ipToInt(ip) ?? 0, offset);
}

/** Returns 4 bytes holding a dotted IPv4 string. */
export function ipBytes(ip: string): Buffer {
  const b = Buffer.alloc(4);
  writeIp(b, 0, ip);
  return b;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Returns the lowercase colon-separated form (aa:bb:…) of the first len bytes of buf. */
export function formatMac(buf: Buffer, len = buf.length): string {
  let s = '';
  for (let i = 0; i < len; i++) s += (i ? ':' : '') + HEX[buf[i]];
  return s;
}

/** Returns the bytes of a colon- or dash-separated MAC string, or null when it is not one. */
export function parseMac(mac: string): Buffer | null {
  const parts = mac.split(/[:-]/);
  if (parts.length < 1 || parts.length > 16 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) return null;
  return Buffer.from(parts.join(''), 'hex');
}

/** Returns true when ip (a number) lies in the network given as numbers. */
export function inSubnet(ip: number, network: number, mask: number): boolean {
  return ((ip & mask) >>> 0) === ((network & mask) >>> 0);
}
