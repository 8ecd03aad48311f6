// A small in-process TFTP client for tests: RRQ with any options, an RFC 7440 receiver, and hooks
// that drop or duplicate packets in either direction.
import { createSocket, type Socket } from 'node:dgram';
import { OP, encodeAck, encodeError, encodeRequest, parseError } from '../../server/tftp/packet.ts';

/** Which packet a loss hook is asked about: its block number and how many came before it. */
export type LossHook = (block: number, seq: number) => boolean;

export interface GetOptions {
  port: number;
  host?: string;
  filename: string;
  mode?: string;
  /** Sent verbatim, names as given (so tests can vary case). */
  options?: Record<string, string | number>;
  /** Client retransmission timeout. */
  timeoutMs?: number;
  retries?: number;
  /** Pretend an arriving DATA packet was lost. */
  dropData?: LossHook;
  /** Process an arriving DATA packet twice. */
  duplicateData?: LossHook;
  /** Do not send an ACK. */
  dropAck?: LossHook;
  /** Send an ACK twice. */
  duplicateAck?: LossHook;
  /** Hold every ACK this long before sending it (a slow client). */
  ackDelayMs?: number;
  /** Acknowledge every block even when a window was negotiated (a non-compliant receiver). */
  ackEveryBlock?: boolean;
  /** After the OACK, send ERROR 8 and stop (firmware asking for tsize). */
  abortAfterOack?: boolean;
  /** Called with each DATA block number accepted in order, and the client socket. */
  onBlock?: (block: number, socket: Socket, server: { address: string; port: number }) => void;
}

export interface GetResult {
  data: Buffer;
  oack: Record<string, string> | null;
  error: { code: number; message: string } | null;
  /** Port the server answered from (its transfer id). */
  serverPort: number;
  dataPackets: number;
  acksSent: number;
  /** ERROR 5 packets this client received on its socket from other ports. */
  strangers: number;
}

/** Fetches a file and returns what arrived; rejects only when the client itself gives up. */
export function tftpGet(o: GetOptions): Promise<GetResult> {
  const host = o.host ?? '127.0.0.1';
  const timeoutMs = o.timeoutMs ?? 200;
  const retries = o.retries ?? 25;
  const socket = createSocket('udp4');
  const parts: Buffer[] = [];
  const result: GetResult = { data: Buffer.alloc(0), oack: null, error: null, serverPort: 0, dataPackets: 0, acksSent: 0, strangers: 0 };
  let blksize = Number(o.options?.blksize ?? 512);
  let windowsize = 1;
  let expected = 1; // absolute number of the next block wanted
  let sinceAck = 0;
  let lastAck: number | null = null; // absolute; null: nothing acknowledged yet (RRQ is the last packet)
  let reAckedFor = -1;
  let dataSeq = 0;
  let ackSeq = 0;
  let tries = 0;
  const rrq = encodeRequest(OP.RRQ, o.filename, o.mode ?? 'octet', o.options ?? {});

  return new Promise<GetResult>((resolve, reject) => {
    let timer: NodeJS.Timeout;
    let finished = false;
    let inflight = 0; // sends not yet handed to the kernel: close only after them
    const send = (pkt: Buffer, port: number) => {
      inflight++;
      socket.send(pkt, port, host, () => {
        if (--inflight === 0 && finished) socket.close();
      });
    };
    const end = (err?: Error) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      if (inflight === 0) socket.close();
      result.data = Buffer.concat(parts);
      if (err) reject(err);
      else resolve(result);
    };
    const sendAck = (abs: number) => {
      lastAck = abs;
      const seq = ackSeq++;
      if (o.dropAck?.(abs, seq)) return;
      const pkt = encodeAck(abs);
      const go = () => {
        send(pkt, result.serverPort);
        if (o.duplicateAck?.(abs, seq)) send(pkt, result.serverPort);
      };
      result.acksSent++;
      if (!o.ackDelayMs) return go();
      inflight++; // the socket stays open for the delayed ACK
      setTimeout(() => {
        inflight--;
        go();
      }, o.ackDelayMs);
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (++tries > retries) return end(new Error(`client gave up on ${o.filename} after ${retries} timeouts`));
        if (lastAck === null) send(rrq, o.port);
        else sendAck(lastAck); // RFC 7440: on timeout, acknowledge the last block received in order
        sinceAck = 0;
        arm();
      }, timeoutMs);
    };
    const onData = (wire: number, payload: Buffer) => {
      if (wire === (expected & 0xffff)) {
        parts.push(Buffer.from(payload));
        if (o.onBlock) o.onBlock(expected, socket, { address: host, port: result.serverPort });
        expected++;
        sinceAck++;
        tries = 0;
        reAckedFor = -1;
        arm();
        if (payload.length < blksize) {
          sendAck(expected - 1);
          return end();
        }
        if (sinceAck >= windowsize || o.ackEveryBlock) {
          sendAck(expected - 1);
          sinceAck = 0;
        }
        return;
      }
      // A duplicate of a block not acknowledged yet is harmless: ignore it. A duplicate of an
      // acknowledged block means that ACK was lost, and a later block means a gap: acknowledge the
      // last block received in order, once per position, so the sender restarts there.
      const back = ((expected & 0xffff) - wire) & 0xffff;
      const isOld = back > 0 && back < 0x8000;
      if (isOld && expected - back > (lastAck ?? 0)) return;
      if (reAckedFor !== expected - 1) {
        reAckedFor = expected - 1;
        sinceAck = 0;
        sendAck(expected - 1);
      }
    };

    socket.on('message', (msg, rinfo) => {
      if (finished) return;
      if (result.serverPort === 0) result.serverPort = rinfo.port;
      if (rinfo.port !== result.serverPort) {
        const e = parseError(msg);
        if (e?.code === 5) result.strangers++;
        else send(encodeError(5, 'unknown transfer id'), rinfo.port);
        return;
      }
      const op = msg.length >= 2 ? msg.readUInt16BE(0) : -1;
      if (op === OP.ERROR) {
        result.error = parseError(msg);
        return end();
      }
      if (op === OP.OACK && lastAck === null) {
        const fields = msg.subarray(2).toString('latin1').split('\0');
        result.oack = {};
        for (let i = 0; i + 1 < fields.length; i += 2) result.oack[fields[i].toLowerCase()] = fields[i + 1];
        if (result.oack.blksize) blksize = Number(result.oack.blksize);
        else blksize = 512;
        if (result.oack.windowsize) windowsize = Number(result.oack.windowsize);
        if (o.abortAfterOack) {
          send(encodeError(8, 'tsize only'), result.serverPort);
          return end();
        }
        tries = 0;
        arm();
        return sendAck(0);
      }
      if (op === OP.DATA && msg.length >= 4) {
        if (result.oack === null && lastAck === null) blksize = 512; // no OACK: RFC 1350 defaults
        const seq = dataSeq++;
        const wire = msg.readUInt16BE(2);
        if (o.dropData?.(wire, seq)) return;
        result.dataPackets++;
        onData(wire, msg.subarray(4));
        if (finished) return;
        if (o.duplicateData?.(wire, seq)) onData(wire, msg.subarray(4));
      }
    });
    socket.bind(0, host, () => {
      send(rrq, o.port);
      arm();
    });
  });
}

/** Sends one raw packet from a fresh socket and returns the first reply, or null after waitMs. */
export function probe(port: number, packet: Buffer, waitMs = 300): Promise<{ msg: Buffer; port: number } | null> {
  const socket = createSocket('udp4');
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.close();
      resolve(null);
    }, waitMs);
    socket.on('message', (msg, rinfo) => {
      clearTimeout(timer);
      socket.close();
      resolve({ msg, port: rinfo.port });
    });
    socket.bind(0, '127.0.0.1', () => socket.send(packet, port, '127.0.0.1'));
  });
}

/** Returns a deterministic pseudo-random predicate true with the given probability (seeded LCG). */
export function chance(probability: number, seed: number): LossHook {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 < probability;
  };
}
