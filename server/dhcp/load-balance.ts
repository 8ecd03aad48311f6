// DHCP load balancing between servers (RFC 3074): every client hashes into one of 256 buckets, and
// each server answers only the buckets assigned to it. Buckets go to the configured peers in turn
// (bucket mod peers, as Kea's load-balancing mode splits two servers); a bucket whose owner is
// down goes to the next live peer in the list, and back to its owner when the owner returns.
// Protocol only: which peers are alive is told from outside (boot/dhcp-peers.ts).
import { Opt } from './options.ts';
import type { DhcpPacket } from './packet.ts';

/** Number of hash buckets (RFC 3074 section 3). */
export const BUCKETS = 256;

/** The mixing table of RFC 3074 section 6: the 256 byte values in pseudo-random order. */
const MIX = Uint8Array.from([
  251, 175, 119, 215, 81, 14, 79, 191, 103, 49, 181, 143, 186, 157, 0, 232, 31, 32, 55, 60, 152, 58, 17, 237, 174, 70, 160, 144, 220, 90, 57, 223, 59, 3, 18, 140, 111, 166,
  203, 196, 134, 243, 124, 95, 222, 179, 197, 65, 180, 48, 36, 15, 107, 46, 233, 130, 165, 30, 123, 161, 209, 23, 97, 16, 40, 91, 219, 61, 100, 10, 210, 109, 250, 127, 22,
  138, 29, 108, 244, 67, 207, 9, 178, 204, 74, 98, 126, 249, 167, 116, 34, 77, 193, 200, 121, 5, 20, 113, 71, 35, 128, 13, 182, 94, 25, 226, 227, 199, 75, 27, 41, 245, 230,
  224, 43, 225, 177, 26, 155, 150, 212, 142, 218, 115, 241, 73, 88, 105, 39, 114, 62, 255, 192, 201, 145, 214, 168, 158, 221, 148, 154, 122, 12, 84, 82, 163, 44, 139, 228,
  236, 205, 242, 217, 11, 187, 146, 159, 64, 86, 239, 195, 42, 106, 198, 118, 112, 184, 172, 87, 2, 173, 117, 176, 229, 247, 253, 137, 185, 99, 164, 102, 147, 45, 66, 231,
  52, 141, 211, 194, 206, 246, 238, 56, 110, 78, 248, 63, 240, 189, 93, 92, 51, 53, 183, 19, 171, 72, 50, 33, 104, 101, 69, 8, 252, 83, 120, 76, 135, 85, 54, 202, 125, 188,
  213, 96, 235, 136, 208, 162, 129, 190, 132, 156, 38, 47, 1, 7, 254, 24, 4, 216, 131, 89, 21, 28, 133, 37, 153, 149, 80, 170, 68, 6, 169, 234, 151,
]);

/** Returns the RFC 3074 section 6 hash (a Pearson hash seeded with the key length) of key: 0–255. */
export function loadBalanceHash(key: Uint8Array): number {
  let hash = key.length & 0xff;
  for (let i = key.length; i > 0; ) hash = MIX[hash ^ key[--i]!]!;
  return hash;
}

/**
 * Returns the bucket of a request: the hash of the client identifier (option 61) when present,
 * else of chaddr's hlen bytes (RFC 3074 section 3); null when neither is there.
 */
export function clientBucket(req: DhcpPacket): number | null {
  const id = req.options.get(Opt.CLIENT_ID);
  if (id && id.length > 0) return loadBalanceHash(id);
  const hlen = Math.min(req.hlen, req.chaddr.length);
  if (hlen === 0) return null;
  return loadBalanceHash(req.chaddr.subarray(0, hlen));
}

/** Which peer answers each bucket, given which peers are alive. */
export class BucketMap {
  private readonly owner = new Uint8Array(BUCKETS);
  private readonly selfIndex: number;
  private served = 0;

  /** peers: every server sharing the network, in the same order on each; self: this one. */
  constructor(
    readonly peers: readonly string[],
    readonly self: string,
  ) {
    if (peers.length === 0 || peers.length > 255) throw new Error('load balancing needs 1 to 255 peers');
    this.selfIndex = peers.indexOf(self);
    if (this.selfIndex < 0) throw new Error(`load balancing: ${JSON.stringify(self)} is not one of the peers`);
    this.assign(new Set(peers));
  }

  /** Returns the peer configured for a bucket (before any takeover). */
  primaryOf(bucket: number): string {
    return this.peers[bucket % this.peers.length]!;
  }

  /**
   * Reassigns every bucket: to its primary when alive, else to the next live peer after it in the
   * list; with nobody alive a bucket stays with its primary. Returns how many buckets changed hands.
   */
  assign(alive: ReadonlySet<string>): number {
    let changed = 0;
    this.served = 0;
    const n = this.peers.length;
    for (let b = 0; b < BUCKETS; b++) {
      const primary = b % n;
      let owner = primary;
      for (let k = 0; k < n; k++) {
        const candidate = (primary + k) % n;
        if (alive.has(this.peers[candidate]!)) {
          owner = candidate;
          break;
        }
      }
      if (this.owner[b] !== owner) changed++;
      this.owner[b] = owner;
      if (owner === this.selfIndex) this.served++;
    }
    return changed;
  }

  /** Returns the peer answering a bucket now. */
  ownerOf(bucket: number): string {
    return this.peers[this.owner[bucket]!]!;
  }

  /** Returns true when this server answers the bucket now. */
  serves(bucket: number): boolean {
    return this.owner[bucket] === this.selfIndex;
  }

  /** Returns how many buckets this server answers now. */
  get servedCount(): number {
    return this.served;
  }
}

/** Returns true when a request is load balanced: everything on port 67 but messages addressed to this server by option 54. */
export function isBalanced(req: DhcpPacket, onPxePort: boolean, serverIp: string): boolean {
  if (onPxePort) return false;
  return req.options.ip(Opt.SERVER_ID) !== serverIp;
}

/** The query filter one server applies: answer a balanced request only when its bucket is ours. */
export class LoadBalancer {
  readonly buckets: BucketMap;
  private holding = true;

  constructor(
    peers: readonly string[],
    self: string,
    private readonly serverIp: string,
  ) {
    this.buckets = new BucketMap(peers, self);
  }

  /** Starts (false) or stops (true) answering balanced requests at all: a server holds back until its peers know it is back. */
  hold(on: boolean): void {
    this.holding = on;
  }

  /** Returns whether balanced requests are held back. */
  get held(): boolean {
    return this.holding;
  }

  /** Returns true when this server should answer req. */
  accepts(req: DhcpPacket, onPxePort: boolean): boolean {
    if (!isBalanced(req, onPxePort, this.serverIp)) return true;
    if (this.holding) return false;
    const b = clientBucket(req);
    return b !== null && this.buckets.serves(b);
  }
}
