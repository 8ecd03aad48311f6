// Option negotiation (RFC 2347): the server answers only the options it understands, with values
// it accepts; unknown options are ignored. blksize RFC 2348, timeout and tsize RFC 2349,
// windowsize RFC 7440.

/** RFC 1350 block size, used when blksize is not negotiated. */
export const DEFAULT_BLKSIZE = 512;
/** RFC 2348 section 2: valid blksize values. */
export const BLKSIZE_RANGE = { min: 8, max: 65464 } as const;
/** RFC 7440 section 3: valid windowsize values. */
export const WINDOWSIZE_RANGE = { min: 1, max: 65535 } as const;
/** RFC 2349 section 2: valid timeout values, in seconds. */
export const TIMEOUT_RANGE = { min: 1, max: 255 } as const;

/** What the server allows; fixed for a server's life. */
export interface NegotiationLimits {
  /** Largest blksize granted: the configured maximum already clamped to the MTU. */
  maxBlksize: number;
  maxWindowsize: number;
  /** Retransmission timeout when the client does not ask for one. */
  defaultTimeoutMs: number;
  /** Largest timeout option granted, in seconds; a larger one is left out of the OACK. */
  maxTimeoutS: number;
}

/** The parameters a transfer runs with, and the OACK pairs to send (empty: no OACK). */
export interface Negotiated {
  blksize: number;
  windowsize: number;
  timeoutMs: number;
  oack: Array<[string, string]>;
}

/** Returns the largest blksize whose DATA packet fits in one IP packet of the given MTU. */
export function blksizeForMtu(mtu: number, family: 'IPv4' | 'IPv6' = 'IPv4'): number {
  const ipHeader = family === 'IPv6' ? 40 : 20;
  return mtu - ipHeader - 8 /* UDP */ - 4 /* TFTP DATA header */;
}

/** Returns the integer a decimal option value spells, or null when it is not one in range. */
function intIn(value: string | undefined, range: { min: number; max: number }): number | null {
  if (value === undefined || !/^[0-9]{1,10}$/.test(value)) return null;
  const n = Number(value);
  return n >= range.min && n <= range.max ? n : null;
}

/**
 * Returns the transfer parameters for a request's options. `size` is the byte count the client
 * will receive when known (tsize is answered only then, RFC 2349 section 3).
 */
export function negotiate(requested: Readonly<Record<string, string>>, size: number | null, limits: NegotiationLimits): Negotiated {
  const out: Negotiated = { blksize: DEFAULT_BLKSIZE, windowsize: 1, timeoutMs: limits.defaultTimeoutMs, oack: [] };

  const blksize = intIn(requested.blksize, BLKSIZE_RANGE);
  if (blksize !== null) {
    // RFC 2348: the server may answer with a smaller size than asked, never a larger one.
    out.blksize = Math.min(blksize, limits.maxBlksize);
    out.oack.push(['blksize', String(out.blksize)]);
  }
  if (requested.tsize !== undefined && size !== null && /^[0-9]{1,20}$/.test(requested.tsize)) {
    out.oack.push(['tsize', String(size)]);
  }
  // RFC 2349 section 2: the server must echo the timeout exactly or not at all, so one over the
  // cap is ignored (a client asking 255 s would otherwise hold a slot for minutes when it goes quiet).
  const timeout = intIn(requested.timeout, TIMEOUT_RANGE);
  if (timeout !== null && timeout <= limits.maxTimeoutS) {
    out.timeoutMs = timeout * 1000;
    out.oack.push(['timeout', String(timeout)]);
  }
  const windowsize = intIn(requested.windowsize, WINDOWSIZE_RANGE);
  if (windowsize !== null) {
    out.windowsize = Math.min(windowsize, limits.maxWindowsize);
    out.oack.push(['windowsize', String(out.windowsize)]);
  }
  return out;
}
