// Counters a TFTP server keeps for /metrics and tests: plain numbers, bumped in place.

/** Running totals since the server was created. */
export interface TftpCounters {
  transfersStarted: number;
  transfersCompleted: number;
  /** Timeouts, client errors mid-transfer, read errors, shutdown. */
  transfersFailed: number;
  /** The client ended the transfer right after option negotiation (firmware asking tsize). */
  transfersAborted: number;
  /** Requests answered with an ERROR before any transfer: not found, refused, over a limit. */
  requestsRefused: number;
  /** Packets dropped because they could not be parsed or made no sense where they arrived. */
  malformed: number;
  /** Packets that reached a transfer socket from another address or port (answered ERROR 5). */
  wrongTid: number;
  /** DATA packets sent, retransmissions included. */
  packetsSent: number;
  /** DATA payload bytes sent, retransmissions included. */
  bytesSent: number;
  /** DATA and OACK packets sent again after a timeout or a client-reported gap. */
  retransmissions: number;
  /** ACKs ignored because they acknowledged nothing new. */
  duplicateAcks: number;
  /** Retransmission timer expiries. */
  timeouts: number;
}

/** The counters plus what is in progress now. */
export interface TftpStats extends TftpCounters {
  activeTransfers: number;
  /** Event-loop turns spent polling for fast clients' ACKs instead of sleeping (busy polling). */
  busyPollTurns: number;
}

/** Returns a fresh set of counters, all zero. */
export function newCounters(): TftpCounters {
  return {
    transfersStarted: 0,
    transfersCompleted: 0,
    transfersFailed: 0,
    transfersAborted: 0,
    requestsRefused: 0,
    malformed: 0,
    wrongTid: 0,
    packetsSent: 0,
    bytesSent: 0,
    retransmissions: 0,
    duplicateAcks: 0,
    timeouts: 0,
  };
}
