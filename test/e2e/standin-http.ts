// Stand-in for kickstand's HTTP side in the e2e lab, run inside the lab's namespace by standin.ts:
// serves install scripts (/scripts/<token>/install.sh), install trees (/trees/<distro>/…) and
// records install events (/events/<token>/<stage>, GET or POST). Prints one JSON line per request
// on stdout, after a first line {"listening": port}.
// Usage: node --import tsx test/e2e/standin-http.ts <config.json>
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, normalize, sep } from 'node:path';

/** What the stand-in serves. */
export interface StandinHttpConfig {
  host: string;
  port: number;
  /** token -> path of the rendered install script. */
  scripts: Record<string, string>;
  /** distro name -> install tree directory. */
  trees: Record<string, string>;
}

/** Returns the file under root that a URL path names, or undefined if it escapes root or is not a file. */
function fileUnder(root: string, rel: string): string | undefined {
  const p = normalize(join(root, decodeURIComponent(rel)));
  if (p !== root && !p.startsWith(root + sep)) return undefined;
  try {
    return statSync(p).isFile() ? p : undefined;
  } catch {
    return undefined;
  }
}

/** Starts the server from a config file path (re-read per request, so tokens can be added) and reports requests on stdout. */
function main(configPath: string): void {
  const read = (): StandinHttpConfig => JSON.parse(readFileSync(configPath, 'utf8')) as StandinHttpConfig;
  const start = read();
  const server = createServer((req, res) => {
    const config = read();
    const url = new URL(req.url ?? '/', 'http://standin');
    const parts = url.pathname.split('/').filter(Boolean);
    let status = 404;
    let file: string | undefined;
    if (parts[0] === 'scripts' && parts.length === 3 && parts[2] === 'install.sh') {
      file = config.scripts[parts[1]];
    } else if (parts[0] === 'events' && parts.length === 3 && parts[1] in config.scripts) {
      status = 200;
    } else if (parts[0] === 'trees' && parts.length >= 3 && config.trees[parts[1]]) {
      file = fileUnder(config.trees[parts[1]], parts.slice(2).join('/'));
    }
    if (file) status = 200;
    const line = {
      time: new Date().toISOString(),
      method: req.method,
      path: url.pathname,
      query: url.search,
      status,
      remote: req.socket.remoteAddress,
    };
    process.stdout.write(JSON.stringify(line) + '\n');
    req.resume();
    if (file) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': statSync(file).size });
      createReadStream(file).pipe(res);
    } else {
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(status === 200 ? 'ok\n' : 'not found\n');
    }
  });
  server.listen(start.port, start.host, () => {
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    process.stdout.write(JSON.stringify({ listening: port }) + '\n');
  });
}

if (process.argv[2]) main(process.argv[2]);
