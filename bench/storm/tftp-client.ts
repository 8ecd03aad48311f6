// The TFTP side of a simulated PXE ROM: RRQ from the machine's leased address with options,
// lock-step ACKs (windowsize 1, as firmware does), the tsize probe that firmware aborts with an
// ERROR, and retransmission of the last packet on a timeout.
import { createSocket } from 'node:dgram';
import { OP, encodeAck, encodeError, encodeRequest, parseError } from '../../server/tftp/packet.ts';

export interface FetchOptions {
  server: string;
  port?: number;
  /** The machine's own address (its lease): the server's per-client limits see one client per machine. */
  localAddress: string;
  filename: string;
  options?: Record<string, string | number>;
  /** After the OACK, send ERROR 8 and stop (the firmware's tsize probe). */
  abortAfterOack?: boolean;
  timeoutMs?: number;
  retries?: number;
}

/** What a fetch got. */
export interface FetchResult {
  data: Buffer;
  oack: Record<string, string> | null;
  error: { code: number; message: string } | null;
  /** Time from the request to the first answer (OACK, DATA or ERROR). */
  firstMs: number;
  ms: number;
  retransmits: number;
}

/** Fetches one file; rejects only when the server stops answering. */
export function tftpFetch(o: FetchOptions): Promise<FetchResult> {
  const timeoutMs = o.timeoutMs ?? 1000;
  const retries = o.retries ?? 5;
  const socket = createSocket('udp4');
  const t0 = performance.now();
  const parts: Buffer[] = [];
  const out: FetchResult = { data: Buffer.alloc(0), oack: null, error: null, firstMs: -1, ms: 0, retransmits: 0 };
  let blksize = Number(o.options?.blksize ?? 512);
  let expected = 1;
  let tid = 0;
  let last = encodeRequest(OP.RRQ, o.filename, 'octet', o.options ?? {});
  let lastPort = o.port ?? 69;
  let tries = 0;
  let timer: NodeJS.Timeout | undefined;

  return new Promise((resolve, reject) => {
    /** Ends the fetch; a final packet (the last ACK, an abort) is sent before the socket closes. */
    const done = (err?: Error, final?: Buffer) => {
      clearTimeout(timer);
      if (final) socket.send(final, tid, o.server, () => socket.close());
      else socket.close();
      out.data = Buffer.concat(parts);
      out.ms = performance.now() - t0;
      if (err) reject(err);
      else resolve(out);
    };
    const send = (pkt: Buffer, port: number) => {
      last = pkt;
      lastPort = port;
      socket.send(pkt, port, o.server);
      arm();
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (++tries > retries) return done(new Error(`tftp ${o.filename}: no answer after ${retries} retransmissions`));
        out.retransmits++;
        send(last, lastPort);
      }, timeoutMs);
    };
    socket.on('message', (msg, rinfo) => {
      if (tid === 0) tid = rinfo.port;
      if (rinfo.port !== tid) return socket.send(encodeError(5, 'unknown transfer id'), rinfo.port, rinfo.address);
      if (out.firstMs < 0) out.firstMs = performance.now() - t0;
      const op = msg.readUInt16BE(0);
      if (op === OP.ERROR) {
        out.error = parseError(msg);
        return done();
      }
      if (op === OP.OACK && expected === 1) {
        const f = msg.subarray(2).toString('latin1').split('\0');
        out.oack = {};
        for (let i = 0; i + 1 < f.length; i += 2) out.oack[f[i].toLowerCase()] = f[i + 1];
        blksize = Number(out.oack.blksize ?? 512);
        if (o.abortAfterOack) {
          return done(undefined, encodeError(8, 'tsize probe'));
        }
        tries = 0;
        return send(encodeAck(0), tid);
      }
      if (op === OP.DATA) {
        const block = msg.readUInt16BE(2);
        if (block !== (expected & 0xffff)) return send(encodeAck((expected - 1) & 0xffff), tid);
        parts.push(msg.subarray(4));
        tries = 0;
        expected++;
        if (msg.length - 4 < blksize) {
          return done(undefined, encodeAck(block));
        }
        send(encodeAck(block), tid);
      }
    });
    socket.bind(0, o.localAddress, () => send(last, lastPort));
  });
}
