// A flood of read requests that never acknowledge anything, for system tests, run in a namespace:
//   node --import tsx tftp-flood.ts SERVER FILE COUNT SECONDS
// COUNT sockets, spread over 127.0.1.1… (at most 7 per address, under the per-client limit), each
// sends an RRQ asking timeout=255 and repeats it every 500 ms for SECONDS, never answering, so
// COUNT requests sit waiting on the server the whole time. Prints what came back as JSON.
import { createSocket, type Socket } from 'node:dgram';
import { OP, encodeRequest } from '../../../server/tftp/packet.ts';

const [server, file, countArg, secondsArg] = process.argv.slice(2);
const count = Number(countArg);
const seconds = Number(secondsArg);
if (!server || !file || !count || !seconds) {
  console.error('usage: tftp-flood.ts SERVER FILE COUNT SECONDS');
  process.exit(2);
}
const rrq = encodeRequest(OP.RRQ, file, 'octet', { timeout: 255, tsize: 0, blksize: 1468 });
const sockets: Socket[] = [];
let packetsIn = 0;
let bytesIn = 0;
let sent = 0;
for (let i = 0; i < count; i++) {
  const s = createSocket('udp4');
  s.on('message', (msg) => {
    packetsIn++;
    bytesIn += msg.length;
  });
  s.on('error', () => {});
  await new Promise<void>((resolve) => s.bind(0, `127.0.1.${1 + Math.floor(i / 7)}`, resolve));
  sockets.push(s);
}
const blast = () => {
  for (const s of sockets) {
    s.send(rrq, 69, server);
    sent++;
  }
};
blast();
const timer = setInterval(blast, 500);
setTimeout(() => {
  clearInterval(timer);
  for (const s of sockets) s.close();
  console.log(JSON.stringify({ sent, bytesOut: sent * rrq.length, packetsIn, bytesIn }));
}, seconds * 1000);
