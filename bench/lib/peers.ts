// The peers from Debian, each started in the foreground on an address the figure chose (the
// namespace's loopback or its veth), logging to the figure's folder, stopped by PID.
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { commandLine, start, waitFor, run, type Proc } from './procs.ts';

/** A started peer and the command that started it. */
export interface Peer {
  proc: Proc;
  command: string;
}

/** Resolves when something accepts TCP connections on host:port (checked with curl). */
async function waitTcp(host: string, port: number, proc: Proc, what: string): Promise<void> {
  await waitFor(async () => {
    if (!proc.alive()) throw new Error(`${what} exited during start-up`);
    const r = await run('curl', ['-s', '-o', '/dev/null', '--max-time', '1', `http://${host}:${port}/`], { timeoutMs: 3000 });
    return r.code === 0 || r.code === 22;
  }, `${what} on ${host}:${port}`);
}

/** Starts nginx serving root on host:port: sendfile on, access log off, worker_processes auto. */
export async function startNginx(dir: string, root: string, host: string, port: number): Promise<Peer> {
  const conf = join(dir, 'nginx.conf');
  mkdirSync(join(dir, 'nginx-tmp'), { recursive: true });
  writeFileSync(
    conf,
    `worker_processes auto;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 4096; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/nginx-tmp;
  proxy_temp_path ${dir}/nginx-tmp;
  fastcgi_temp_path ${dir}/nginx-tmp;
  uwsgi_temp_path ${dir}/nginx-tmp;
  scgi_temp_path ${dir}/nginx-tmp;
  server {
    listen ${host}:${port};
    root ${root};
  }
}
`,
  );
  const args = ['-c', conf, '-e', join(dir, 'nginx-error.log')];
  const proc = start('nginx', 'nginx', args, { logFile: join(dir, 'nginx.out') });
  await waitTcp(host, port, proc, 'nginx');
  return { proc, command: `${commandLine('nginx', ['-c', 'nginx.conf'])}  # worker_processes auto, sendfile on, access_log off, keepalive_requests 1000000` };
}

/** Starts tftpd-hpa (in.tftpd) in the foreground serving root on host:port. */
export async function startTftpdHpa(root: string, host: string, dir: string, port = 69): Promise<Peer> {
  const args = ['--foreground', '--address', `${host}:${port}`, '--secure', '--user', 'root', root];
  const proc = start('tftpd-hpa', 'in.tftpd', args, { logFile: join(dir, 'tftpd-hpa.log') });
  await new Promise((r) => setTimeout(r, 300));
  if (!proc.alive()) throw new Error(`in.tftpd exited at start (${await proc.exited})`);
  return { proc, command: commandLine('in.tftpd', args).split(dir).join('$TMP') };
}

/** Starts dnsmasq as a TFTP server only (DNS off) serving root on host:69. */
export async function startDnsmasqTftp(root: string, host: string, dir: string, maxTransfers: number): Promise<Peer> {
  const args = [
    '--keep-in-foreground', '--conf-file=/dev/null', '--port=0', '--user=root', `--listen-address=${host}`, '--bind-interfaces',
    '--enable-tftp', `--tftp-root=${root}`, `--tftp-max=${maxTransfers}`, `--pid-file=${dir}/dnsmasq-tftp.pid`, `--log-facility=${dir}/dnsmasq-tftp.log`,
  ];
  const proc = start('dnsmasq', 'dnsmasq', args, { logFile: join(dir, 'dnsmasq-tftp.out') });
  await new Promise((r) => setTimeout(r, 300));
  if (!proc.alive()) throw new Error(`dnsmasq exited at start (${await proc.exited})`);
  return { proc, command: commandLine('dnsmasq', args).split(dir).join('$TMP') };
}
