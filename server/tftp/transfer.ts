// One read transfer on its own socket (RFC 1350 section 4: a fresh TID per transfer), connected to
// the client so the kernel drops anyone else's packets: OACK, a window of DATA packets, ACK
// handling and retransmission. Block numbers are kept absolute here and wrapped to 16 bits only on
// the wire. Until the client acknowledges the first packet the transfer is "unanswered": it sends
// that one small packet, resends it at most firstResends times, and gives up quietly after
// firstAckMs, so a spoofed request costs a bounded handful of bytes and seconds.
import type { Socket } from 'node:dgram';
import type { BlockReader } from './block-reader.ts';
import type { BusyPoller } from './busy-poll.ts';
import { ERR, OP, encodeError, parseError } from './packet.ts';
import { C } from './stats.ts';
import type { TransferTuning } from './settings.ts';
import type { LineLog } from './host-protocol.ts';

/** How a transfer ended: every block acknowledged; the client gave up right after the OACK
 * (firmware asking tsize); the client never acknowledged the first packet (or was pushed out for a
 * newer request before it did); or anything else (timeout, client error, read error, shutdown). */
export type TransferOutcome = 'completed' | 'aborted' | 'unanswered' | 'failed';

export interface TransferParams {
  /** Bound to the local address the request came to and connected to the client. */
  socket: Socket;
  reader: BlockReader;
  windowsize: number;
  timeoutMs: number;
  tuning: TransferTuning;
  /** OACK packet to send first, or null to start with block 1. */
  oack: Buffer | null;
  counters: Float64Array;
  /** Keeps the loop polling after a send while the client answers within its budget. */
  poller?: BusyPoller;
  /** Returns whether busy polling is allowed now (few enough transfers running). */
  mayPoll?: () => boolean;
  log: LineLog;
  /** The client acknowledged the first packet. */
  onAnswered: () => void;
  onEnd: (outcome: TransferOutcome, reason: string) => void;
}

/** Consecutive answers within the busy-poll budget before a client is polled for. */
const FAST_STREAK = 2;
/** A client's repeated RRQ gets the first packet again at most this often. */
const RESEND_ON_REQUEST_MS = 200;

/** Runs one RRQ transfer to completion, failure or abort; `start()` sends the first packet. */
export class Transfer {
  /** What this transfer put on the wire (DATA packets and payload bytes, resends included). */
  readonly tally = { packets: 0, bytes: 0, retransmissions: 0 };
  /** Highest block the client acknowledged in order; -1 while the OACK awaits its ACK 0. */
  private acked: number;
  /** Highest block sent in the current pass (lowered to `acked` when resending). */
  private sent = 0;
  /** Highest block ever sent: anything at or below it that goes out again is a retransmission. */
  private maxSent = 0;
  /** A partial ACK below this does not rewind again: it may be an echo of the last rewind. */
  private rewindGuard = 0;
  private retriesLeft: number;
  private answered = false;
  private firstResendsLeft: number;
  private firstSentAt = 0;
  private lastProgress = 0;
  private waitingForRead = false;
  private done = false;
  /** When the last packet went out, and how many answers in a row came within the busy-poll budget. */
  private sentAt = 0;
  private fastStreak = 0;
  /** Armed by the first packet sent (a first block may wait for its chunk). */
  private timer: NodeJS.Timeout | null = null;
  private readonly p: TransferParams;

  constructor(p: TransferParams) {
    this.p = p;
    this.acked = p.oack ? -1 : 0;
    this.retriesLeft = p.tuning.retries;
    this.firstResendsLeft = p.tuning.firstResends;
    p.socket.on('message', (msg) => this.onMessage(msg));
    p.socket.on('error', (err) => this.finish(this.answered ? 'failed' : 'unanswered', `socket error: ${err.message}`));
  }

  /** Sends the OACK or block 1: the one packet an unanswered request gets. */
  start(): void {
    this.firstSentAt = performance.now();
    if (this.p.oack) {
      this.send(this.p.oack);
      this.arm();
    } else this.pump();
  }

  private arm(): void {
    this.timer ??= setTimeout(() => this.onTimeout(), this.firstWaitMs());
  }

  /** The client sent its request again before answering: it may have lost our first packet. */
  requestedAgain(): void {
    if (this.done || this.answered || performance.now() - this.firstSentAt < RESEND_ON_REQUEST_MS) return;
    this.firstSentAt = performance.now();
    this.resendFirst();
  }

  /**
   * Ends the transfer now, telling the client why once it has answered (never an unanswered one: it
   * may be spoofed). A quiet abort pushes out an unanswered request, and leaves alone a transfer
   * whose client has answered since (the listening thread takes it back when it hears).
   */
  abort(reason: string, quiet = false): void {
    if (this.done || (quiet && this.answered)) return;
    if (this.answered) this.send(encodeError(ERR.NOT_DEFINED, reason));
    this.finish(this.answered ? 'failed' : 'unanswered', reason);
  }

  private onMessage(msg: Buffer): void {
    if (this.done) return;
    const opcode = msg.length >= 4 ? msg.readUInt16BE(0) : -1;
    if (opcode === OP.ACK) return this.onAck(msg.readUInt16BE(2));
    if (opcode === OP.ERROR) return this.onClientError(msg);
    this.p.counters[C.malformed]++;
    this.p.log.debug({ opcode, bytes: msg.length }, 'tftp unexpected packet in transfer dropped');
  }

  private onAck(wire: number): void {
    if (this.acked < 0) {
      if (wire !== 0) return; // only ACK 0 answers an OACK (RFC 2347 section 2)
      this.acked = 0;
      this.timeAnswer();
      this.progress();
      this.pump();
      return;
    }
    // Map the 16-bit number onto the blocks in flight. An ACK that advances nothing is a
    // duplicate and is ignored: answering it would double the traffic (sorcerer's apprentice).
    const delta = (wire - this.acked) & 0xffff;
    if (delta === 0) {
      this.p.counters[C.duplicateAcks]++;
      return;
    }
    const abs = this.acked + delta;
    if (abs > this.maxSent) return; // acknowledges nothing ever sent: bogus, or 65536 blocks stale
    this.acked = abs;
    this.timeAnswer();
    if (abs > this.sent) this.sent = abs; // the client had blocks a rewind was about to resend
    if (abs === this.p.reader.lastBlock) {
      this.progress();
      this.finish('completed', 'all blocks acknowledged');
      return;
    }
    if (abs < this.sent && abs >= this.rewindGuard) {
      // RFC 7440 section 4: an ACK inside the window means the client lost the next block; the
      // next window starts right after it.
      this.sent = abs;
      this.rewindGuard = abs + this.p.windowsize;
    }
    this.p.reader.release(abs);
    this.progress();
    this.pump();
  }

  private onClientError(msg: Buffer): void {
    const e = parseError(msg);
    const what = `client error ${e?.code ?? '?'}: ${JSON.stringify(e?.message ?? '')}`;
    if (this.acked < 0) {
      // Firmware asks for tsize, reads the OACK and aborts to allocate memory: normal.
      this.p.log.debug({}, `tftp client ended transfer after option negotiation (${what})`);
      this.finish('aborted', what);
    } else {
      this.finish('failed', what);
    }
  }

  /** Sends blocks until the window (acked + windowsize) is full or the file ends. */
  private pump(): void {
    const { reader, windowsize } = this.p;
    const limit = Math.min(this.acked + windowsize, reader.lastBlock);
    const before = this.sent;
    while (this.sent < limit && !this.done) {
      const next = this.sent + 1;
      const pkt = reader.packet(next);
      if (pkt === undefined) {
        this.waitForRead();
        break;
      }
      this.send(pkt);
      this.sent = next;
      const counters = this.p.counters;
      const tally = this.tally;
      counters[C.packetsSent]++;
      tally.packets++;
      counters[C.bytesSent] += pkt.length - 4;
      tally.bytes += pkt.length - 4;
      if (next <= this.maxSent) {
        counters[C.retransmissions]++;
        tally.retransmissions++;
      } else {
        this.maxSent = next;
      }
    }
    if (this.sent > before) {
      this.arm();
      this.sentNow();
    }
  }

  private waitForRead(): void {
    const reader = this.p.reader;
    if (reader.error) {
      this.p.log.warn({ err: reader.error.message }, 'tftp read failed');
      this.abort('read error');
      return;
    }
    if (this.waitingForRead) return;
    this.waitingForRead = true;
    void reader.ready().then(() => {
      this.waitingForRead = false;
      if (!this.done) this.pump();
    });
  }

  /**
   * How long an unanswered request waits before the first resend of its first packet. The waits
   * double with each resend, and the first plus its doublings add up to at most firstAckMs
   * (1 + 2 + 4 + 8 = 15 parts for 3 resends); the first is never longer than the timeout.
   */
  private firstWaitMs(): number {
    const { firstAckMs, firstResends } = this.p.tuning;
    return Math.max(1, Math.min(this.p.timeoutMs, Math.floor(firstAckMs / (2 ** (firstResends + 1) - 1))));
  }

  private onTimeout(): void {
    if (this.done) return;
    const c = this.p.counters;
    if (!this.answered) {
      if (this.firstResendsLeft <= 0) return this.finish('unanswered', 'the client never acknowledged the first packet');
      this.firstResendsLeft--;
      c[C.timeouts]++;
      this.resendFirst();
      // Each wait doubles (1, 2, 4, 8 s by default): a client starved of CPU still gets in.
      const waited = this.p.tuning.firstResends - this.firstResendsLeft;
      this.timer = setTimeout(() => this.onTimeout(), this.firstWaitMs() * 2 ** waited);
      return;
    }
    if (this.retriesLeft <= 0 || performance.now() - this.lastProgress >= this.p.tuning.maxStallMs) {
      this.abort('timed out');
      return;
    }
    this.retriesLeft--;
    c[C.timeouts]++;
    if (this.acked < 0) {
      this.send(this.p.oack!);
      c[C.retransmissions]++;
      this.tally.retransmissions++;
    } else {
      // Resume from the last acknowledged block: resend the window, nothing more.
      this.sent = this.acked;
      this.rewindGuard = this.acked + this.p.windowsize;
      this.pump();
    }
    this.timer?.refresh();
  }

  /** Sends the first packet again (OACK, or block 1 of a transfer without options). */
  private resendFirst(): void {
    if (this.p.oack) {
      this.send(this.p.oack);
      this.p.counters[C.retransmissions]++;
      this.tally.retransmissions++;
    } else {
      this.sent = 0;
      this.pump();
    }
  }

  /** Notes progress: the retry budget and the timer start over; the first one proves the client real. */
  private progress(): void {
    this.retriesLeft = this.p.tuning.retries;
    this.lastProgress = performance.now();
    if (this.answered) {
      this.timer?.refresh();
      return;
    }
    // From the first ACK on, the negotiated timeout applies.
    this.answered = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.onTimeout(), this.p.timeoutMs);
    this.p.onAnswered();
  }

  private send(pkt: Buffer): void {
    this.p.socket.send(pkt);
  }

  /** Notes a send; polls for the answer when the client has been answering within the budget. */
  private sentNow(): void {
    const poller = this.p.poller;
    if (!poller || poller.budgetMs <= 0) return;
    this.sentAt = performance.now();
    if (this.fastStreak >= FAST_STREAK && (this.p.mayPoll?.() ?? true)) poller.hold();
  }

  /** Times the client's answer to the last send. */
  private timeAnswer(): void {
    const poller = this.p.poller;
    if (!poller || poller.budgetMs <= 0 || this.sentAt === 0) return;
    this.fastStreak = poller.worthIt(performance.now() - this.sentAt) ? this.fastStreak + 1 : 0;
  }

  private finish(outcome: TransferOutcome, reason: string): void {
    if (this.done) return;
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    this.p.socket.removeAllListeners('message');
    this.p.reader.close();
    const c = this.p.counters;
    c[outcome === 'completed' ? C.transfersCompleted : outcome === 'aborted' ? C.transfersAborted : outcome === 'unanswered' ? C.unanswered : C.transfersFailed]++;
    this.p.onEnd(outcome, reason);
  }
}
