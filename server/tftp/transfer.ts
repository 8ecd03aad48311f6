// One read transfer on its own socket (RFC 1350 section 4: a fresh TID per transfer): OACK, a
// window of DATA packets, ACK handling and retransmission. Block numbers are kept absolute here and
// wrapped to 16 bits only on the wire.
import type { Socket, RemoteInfo } from 'node:dgram';
import type { Logger } from '../log.ts';
import type { BlockReader } from './block-reader.ts';
import type { BusyPoller } from './busy-poll.ts';
import { ERR, OP, encodeError, parseError } from './packet.ts';
import type { TftpCounters } from './stats.ts';

/** How a transfer ended: every block acknowledged, the client gave up right after the OACK
 * (firmware asking tsize), or anything else (timeout, client error, read error, shutdown). */
export type TransferOutcome = 'completed' | 'aborted' | 'failed';

export interface TransferParams {
  socket: Socket;
  peer: { address: string; port: number };
  reader: BlockReader;
  windowsize: number;
  timeoutMs: number;
  retries: number;
  /** OACK packet to send first, or null to start with block 1. */
  oack: Buffer | null;
  counters: TftpCounters;
  /** Keeps the loop polling after a send while the client answers within its budget. */
  poller?: BusyPoller;
  log: Logger;
  onEnd: (outcome: TransferOutcome, reason: string) => void;
}

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
  private waitingForRead = false;
  private done = false;
  /** When the last packet went out, and whether the client answered the one before in time to be polled for. */
  private sentAt = 0;
  private answersFast = true;
  private readonly timer: NodeJS.Timeout;
  private readonly p: TransferParams;

  constructor(p: TransferParams) {
    this.p = p;
    this.acked = p.oack ? -1 : 0;
    this.retriesLeft = p.retries;
    this.timer = setTimeout(() => this.onTimeout(), p.timeoutMs);
    p.socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    p.socket.on('error', (err) => this.finish('failed', `socket error: ${err.message}`));
  }

  /** Sends the OACK or the first window. */
  start(): void {
    if (this.p.oack) {
      this.send(this.p.oack);
      this.sentNow();
    } else this.pump();
  }

  /** Ends the transfer now, telling the client why. */
  abort(reason: string): void {
    if (this.done) return;
    this.send(encodeError(ERR.NOT_DEFINED, reason));
    this.finish('failed', reason);
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.done) return;
    if (rinfo.port !== this.p.peer.port || rinfo.address !== this.p.peer.address) {
      // RFC 1350 section 4: answer a stranger with ERROR 5 and carry on undisturbed. Never answer
      // an ERROR with an ERROR.
      this.p.counters.wrongTid++;
      this.p.log.debug({ from: `${rinfo.address}:${rinfo.port}` }, 'tftp packet from unknown transfer id dropped');
      if (msg.length >= 2 && msg.readUInt16BE(0) !== OP.ERROR) {
        this.p.socket.send(encodeError(ERR.UNKNOWN_TID, 'unknown transfer id'), rinfo.port, rinfo.address);
      }
      return;
    }
    const opcode = msg.length >= 4 ? msg.readUInt16BE(0) : -1;
    if (opcode === OP.ACK) return this.onAck(msg.readUInt16BE(2));
    if (opcode === OP.ERROR) return this.onClientError(msg);
    this.p.counters.malformed++;
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
      this.p.counters.duplicateAcks++;
      return;
    }
    const abs = this.acked + delta;
    if (abs > this.maxSent) return; // acknowledges nothing ever sent: bogus, or 65536 blocks stale
    this.acked = abs;
    this.timeAnswer();
    if (abs > this.sent) this.sent = abs; // the client had blocks a rewind was about to resend
    if (abs === this.p.reader.lastBlock) {
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
      this.p.log.debug({ peer: this.p.peer }, `tftp client ended transfer after option negotiation (${what})`);
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
    this.fill(reader, limit);
    if (this.sent > before) this.sentNow();
  }

  private fill(reader: BlockReader, limit: number): void {
    while (this.sent < limit && !this.done) {
      const next = this.sent + 1;
      const pkt = reader.packet(next);
      if (pkt === undefined) {
        this.waitForRead();
        return;
      }
      this.send(pkt);
      this.sent = next;
      const counters = this.p.counters;
      const tally = this.tally;
      counters.packetsSent++;
      tally.packets++;
      counters.bytesSent += pkt.length - 4;
      tally.bytes += pkt.length - 4;
      if (next <= this.maxSent) {
        counters.retransmissions++;
        tally.retransmissions++;
      } else {
        this.maxSent = next;
      }
    }
  }

  private waitForRead(): void {
    const reader = this.p.reader;
    if (reader.error) {
      this.abort('read error');
      this.p.log.warn({ err: reader.error, peer: this.p.peer }, 'tftp read failed');
      return;
    }
    if (this.waitingForRead) return;
    this.waitingForRead = true;
    void reader.ready().then(() => {
      this.waitingForRead = false;
      if (!this.done) this.pump();
    });
  }

  private onTimeout(): void {
    if (this.done) return;
    if (this.retriesLeft <= 0) {
      this.abort('timed out');
      return;
    }
    this.retriesLeft--;
    this.p.counters.timeouts++;
    if (this.acked < 0) {
      this.send(this.p.oack!);
      this.p.counters.retransmissions++;
      this.tally.retransmissions++;
    } else {
      // Resume from the last acknowledged block: resend the window, nothing more.
      this.sent = this.acked;
      this.rewindGuard = this.acked + this.p.windowsize;
      this.pump();
    }
    this.timer.refresh();
  }

  private progress(): void {
    this.retriesLeft = this.p.retries;
    this.timer.refresh();
  }

  private send(pkt: Buffer): void {
    this.p.socket.send(pkt, this.p.peer.port, this.p.peer.address);
  }

  /** Notes a send; polls for the answer when the client answered the last one within the budget. */
  private sentNow(): void {
    const poller = this.p.poller;
    if (!poller || poller.budgetMs <= 0) return;
    this.sentAt = performance.now();
    if (this.answersFast) poller.hold();
  }

  /** Times the client's answer to the last send. */
  private timeAnswer(): void {
    const poller = this.p.poller;
    if (poller && poller.budgetMs > 0 && this.sentAt > 0) this.answersFast = poller.worthIt(performance.now() - this.sentAt);
  }

  private finish(outcome: TransferOutcome, reason: string): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.p.socket.removeAllListeners('message');
    this.p.onEnd(outcome, reason);
  }
}
