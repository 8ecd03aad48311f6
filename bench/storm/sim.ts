// The boot-storm simulator: N machines started evenly over a ramp, each doing what a BIOS PXE
// machine and its installer do against kickstand, timed per stage:
//   dhcp         DISCOVER/OFFER/REQUEST/ACK (PXE options, broadcast)
//   tftp-loader  pxelinux.0 (tsize probe, then the file) and ldlinux.c32   — transfer time
//   tftp-config  pxelinux.cfg/<uuid> (not found) then pxelinux.cfg/01-<mac> (the install menu)
//   kickstart    GET of the ks= URL from that menu, with anaconda's MAC header
//   event        each GET /events/<token>/<stage> (partitioned … built), timed one by one
// and writes one JSON record per machine.   node --import tsx bench/storm/sim.ts CONFIG.json
// With `attempts` > 1 a machine whose boot fails anywhere reboots after rebootMs and starts again
// from DHCP, as PXE firmware does (the stage times are those of its last attempt); every step
// report it sent is listed with its HTTP status, so a test can hold the server to each one.
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { StormDhcp } from './dhcp-client.ts';
import { tftpFetch } from './tftp-client.ts';

/** What the driver passes in (a JSON file). */
export interface SimConfig {
  macs: string[];
  rampMs: number;
  out: string;
  /** Boots a machine tries before it counts as failed (default 1). */
  attempts?: number;
  /** Pause before a failed machine boots again (default 1000 ms). */
  rebootMs?: number;
}

/** One machine's run. */
export interface MachineRecord {
  mac: string;
  ok: boolean;
  error?: string;
  ip?: string;
  /** Milliseconds per stage; `event` holds one entry per report. */
  stages: { dhcp?: number; 'tftp-loader'?: number; 'tftp-loader-first'?: number; 'tftp-config'?: number; kickstart?: number; event: number[]; total?: number };
  dhcpSent?: number;
  tftpRetransmits: number;
  state?: string;
  /** Boots it took (1 without failures). */
  attempts: number;
  /** Errors of the failed attempts before the last. */
  earlier: string[];
  /** Every step report sent: stage, the server it went to, and the HTTP status (0: no answer). */
  reports: Array<{ stage: string; server: string; status: number }>;
  /** The server that answered DHCP on the last attempt. */
  server?: string;
}

const EVENTS = ['partitioned', 'formatted', 'kernel-installed', 'bootloader-installed', 'built'];

/** GETs url from localAddress on a fresh connection; resolves with status and body. */
function httpGet(url: string, localAddress: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress, agent: false, headers, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}

function uuidOf(mac: string): Buffer {
  return Buffer.concat([Buffer.from('ksbench0', 'latin1'), Buffer.from(`00${mac.replace(/:/g, '')}`, 'hex')]);
}

function uuidName(u: Buffer): string {
  const h = u.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Boots one machine until it is built or out of attempts. */
async function machine(dhcp: StormDhcp, mac: string, attempts: number, rebootMs: number): Promise<MachineRecord> {
  const earlier: string[] = [];
  const reports: MachineRecord['reports'] = [];
  for (let n = 1; ; n++) {
    const rec = await boot(dhcp, mac, reports);
    rec.attempts = n;
    rec.earlier = earlier;
    if (rec.ok || n >= attempts) return rec;
    earlier.push(rec.error ?? 'failed');
    await new Promise((r) => setTimeout(r, rebootMs));
  }
}

/** One boot of a machine, from DHCP to the built report. */
async function boot(dhcp: StormDhcp, mac: string, reports: MachineRecord['reports']): Promise<MachineRecord> {
  const rec: MachineRecord = { mac, ok: false, stages: { event: [] }, tftpRetransmits: 0, attempts: 1, earlier: [], reports };
  const t0 = performance.now();
  let t = t0;
  const lap = () => {
    const now = performance.now();
    const ms = now - t;
    t = now;
    return ms;
  };
  try {
    const uuid = uuidOf(mac);
    const lease = await dhcp.lease(mac, uuid);
    rec.stages.dhcp = lap();
    rec.ip = lease.ip;
    rec.dhcpSent = lease.sent;
    rec.server = lease.serverId;
    if (lease.bootFile !== 'pxelinux.0') throw new Error(`dhcp boot file ${JSON.stringify(lease.bootFile)}, expected pxelinux.0`);
    const base = { server: lease.nextServer, localAddress: lease.ip };

    const probe = await tftpFetch({ ...base, filename: 'pxelinux.0', options: { tsize: 0 }, abortAfterOack: true });
    const loader = await tftpFetch({ ...base, filename: 'pxelinux.0', options: { blksize: 1456, tsize: 0 } });
    if (loader.error || loader.data.length === 0 || String(loader.data.length) !== loader.oack?.tsize) throw new Error(`pxelinux.0: ${loader.error?.message ?? `${loader.data.length} bytes, tsize ${loader.oack?.tsize}`}`);
    const ldlinux = await tftpFetch({ ...base, filename: 'ldlinux.c32', options: { blksize: 1408, tsize: 0 } });
    if (ldlinux.error || ldlinux.data.length === 0) throw new Error(`ldlinux.c32: ${ldlinux.error?.message ?? 'empty'}`);
    rec.tftpRetransmits += probe.retransmits + loader.retransmits + ldlinux.retransmits;
    rec.stages['tftp-loader-first'] = loader.firstMs;
    rec.stages['tftp-loader'] = lap();

    const miss = await tftpFetch({ ...base, filename: `pxelinux.cfg/${uuidName(uuid)}`, options: { blksize: 1408, tsize: 0 } });
    if (miss.error?.code !== 1) throw new Error(`pxelinux.cfg/<uuid>: expected file not found, got ${miss.error ? miss.error.message : `${miss.data.length} bytes`}`);
    const menu = await tftpFetch({ ...base, filename: `pxelinux.cfg/01-${mac.replace(/:/g, '-')}`, options: { blksize: 1408, tsize: 0 } });
    rec.tftpRetransmits += miss.retransmits + menu.retransmits;
    const ks = /\bks=(\S+)/.exec(menu.data.toString('utf8'))?.[1];
    if (!ks) throw new Error(`pxelinux.cfg/01-${mac}: no ks= in the menu: ${menu.error?.message ?? menu.data.toString('utf8').slice(0, 200)}`);
    rec.stages['tftp-config'] = lap();

    const kick = await httpGet(ks, lease.ip, { 'X-RHN-Provisioning-MAC-0': `eth0 ${mac}` });
    if (kick.status !== 200 || !/^url --url /m.test(kick.body)) throw new Error(`kickstart: HTTP ${kick.status}`);
    rec.stages.kickstart = lap();

    const token = new URL(ks).pathname.split('/').pop()!;
    const origin = new URL(ks).origin;
    for (const stage of EVENTS) {
      const sent = { stage, server: new URL(origin).hostname, status: 0 };
      reports.push(sent);
      const r = await httpGet(`${origin}/events/${token}/${stage}`, lease.ip);
      sent.status = r.status;
      rec.stages.event.push(lap());
      if (r.status !== 200) throw new Error(`event ${stage}: HTTP ${r.status} ${r.body.slice(0, 200)}`);
      rec.state = (JSON.parse(r.body) as { state: string }).state;
    }
    if (rec.state !== 'built') throw new Error(`after the events the system is ${rec.state}, not built`);
    rec.ok = true;
  } catch (err) {
    rec.error = (err as Error).message;
  }
  rec.stages.total = performance.now() - t0;
  return rec;
}

const config = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as SimConfig;
const dhcp = new StormDhcp();
await dhcp.open();
const t0 = performance.now();
const runs = config.macs.map(
  (mac, i) =>
    new Promise<MachineRecord>((resolve) => {
      setTimeout(() => void machine(dhcp, mac, config.attempts ?? 1, config.rebootMs ?? 1000).then(resolve), (i * config.rampMs) / config.macs.length);
    }),
);
const records = await Promise.all(runs);
dhcp.close();
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage();
writeFileSync(config.out, JSON.stringify({ seconds, records, cpuSeconds: (cpu.user + cpu.system) / 1e6 }));
const failed = records.filter((r) => !r.ok);
console.log(`${records.length - failed.length}/${records.length} machines built in ${seconds.toFixed(1)} s${failed.length ? `; first failure: ${failed[0].mac}: ${failed[0].error}` : ''}`);
