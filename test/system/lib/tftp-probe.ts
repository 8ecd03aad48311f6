// A raw TFTP client for system tests, run inside a namespace:
//   node --import tsx tftp-probe.ts SERVER FILE [OPTIONS_JSON]
// Fetches FILE from SERVER:69 (lock-step) and prints JSON: where each reply came from, the bytes
// received, and any error. It accepts replies from any address so the test can see a wrong one.
import { createSocket } from 'node:dgram';
import { OP, encodeAck, encodeRequest, parseError } from '../../../server/tftp/packet.ts';

const [server, file, optionsJson] = process.argv.slice(2);
if (!server || !file) {
  console.error('usage: tftp-probe.ts SERVER FILE [OPTIONS_JSON]');
  process.exit(2);
}
const options = JSON.parse(optionsJson ?? '{}') as Record<string, string>;
const socket = createSocket('udp4');
const replies: Array<{ from: string; port: number; opcode: number }> = [];
let bytes = 0;
let blksize = Number(options.blksize ?? 512);
let expected = 1;
const done = (error: string | null) => {
  console.log(JSON.stringify({ replies, bytes, error }));
  socket.close();
  process.exit(0);
};
const timer = setTimeout(() => done('timed out'), 20_000);
socket.on('message', (msg, rinfo) => {
  const opcode = msg.length >= 2 ? msg.readUInt16BE(0) : -1;
  replies.push({ from: rinfo.address, port: rinfo.port, opcode });
  if (opcode === OP.ERROR) return done(`error ${JSON.stringify(parseError(msg))}`);
  if (opcode === OP.OACK) {
    const f = msg.subarray(2).toString('latin1').split('\0');
    for (let i = 0; i + 1 < f.length; i += 2) if (f[i]!.toLowerCase() === 'blksize') blksize = Number(f[i + 1]);
    return socket.send(encodeAck(0), rinfo.port, rinfo.address);
  }
  if (opcode === OP.DATA && msg.readUInt16BE(2) === (expected & 0xffff)) {
    bytes += msg.length - 4;
    socket.send(encodeAck(expected), rinfo.port, rinfo.address);
    expected++;
    if (msg.length - 4 < blksize) {
      clearTimeout(timer);
      setTimeout(() => done(null), 50);
    }
  }
});
socket.bind(0, () => socket.send(encodeRequest(OP.RRQ, file, 'octet', options), 69, server));
