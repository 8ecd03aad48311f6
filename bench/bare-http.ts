// A bare node:http server answering every request with one file's bytes from memory and the same
// headers kickstand sends: the ceiling a single Node process reaches on this machine, shown beside
// kickstand's lean path in the kickstart figure.
//   node --import tsx bench/bare-http.ts FILE PORT
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const [file, port] = process.argv.slice(2);
const body = readFileSync(file!);
const server = createServer({ keepAlive: true }, (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length, 'cache-control': 'no-store' });
  res.end(body);
});
server.keepAliveTimeout = 65_000;
server.listen(Number(port), '127.0.0.1');
process.once('SIGTERM', () => server.close(() => process.exit(0)));
