// Memory and CPU of a running process read from /proc: VmRSS and VmHWM (peak RSS) from
// /proc/<pid>/status, user+system time from /proc/<pid>/stat, sampled on an interval.
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const MiB = 1024 * 1024;

/** Returns VmRSS and VmHWM of pid in bytes (0 when the process is gone). */
export function memory(pid: number): { rss: number; hwm: number } {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
    return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}

/** Returns the CPU time (user + system) pid has used, in seconds. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** Returns the CPU time (user + system, seconds) of each thread of pid, by thread id. */
export function threadCpuSeconds(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), (Number(rest[11]) + Number(rest[12])) / CLK_TCK);
    } catch {
      /* the thread ended */
    }
  }
  return out;
}

/** Returns busy and total jiffies of each CPU of the machine (/proc/stat cpuN lines). */
export function coreTimes(): Array<{ busy: number; total: number }> {
  const out: Array<{ busy: number; total: number }> = [];
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    if (!/^cpu\d+ /.test(line)) continue;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    out.push({ busy: total - v[3]! - v[4]!, total });
  }
  return out;
}

/** CPU per thread of a process and per core of the machine over a window. */
export interface ThreadSummary {
  /** The main thread (its JavaScript event loop), % of one core. */
  mainPct: number;
  /** Every other thread (TFTP workers, libuv pool, V8), % of one core, busiest first. */
  otherPct: number[];
  /** Each core of the machine busy (all processes), %. */
  corePct: number[];
}

/** What a sampler saw between start and stop. */
export interface SampleSummary {
  seconds: number;
  rssStart: number;
  rssMax: number;
  /** VmHWM at the end: the peak RSS since the process started. */
  hwmEnd: number;
  cpuSeconds: number;
  /** CPU use over the whole window, in percent of one core. */
  cpuAvgPct: number;
  /** Highest CPU use over any one sampling interval, in percent of one core. */
  cpuPeakPct: number;
  threads: ThreadSummary;
}

/** Samples a process's RSS and CPU every intervalMs until stop(). */
export class Sampler {
  private readonly t0 = performance.now();
  private readonly cpu0: number;
  private readonly rss0: number;
  private rssMax: number;
  private cpuPeak = 0;
  private lastCpu: number;
  private lastT: number;
  private readonly timer: NodeJS.Timeout;
  private readonly threads0: Map<number, number>;
  private readonly cores0 = coreTimes();

  constructor(
    private readonly pid: number,
    intervalMs = 100,
  ) {
    this.cpu0 = this.lastCpu = cpuSeconds(pid);
    this.rss0 = this.rssMax = memory(pid).rss;
    this.lastT = this.t0;
    this.threads0 = threadCpuSeconds(pid);
    this.timer = setInterval(() => this.tick(), intervalMs);
  }

  private tick(): void {
    const rss = memory(this.pid).rss;
    if (rss > this.rssMax) this.rssMax = rss;
    const now = performance.now();
    const cpu = cpuSeconds(this.pid);
    const dt = (now - this.lastT) / 1000;
    if (dt > 0) this.cpuPeak = Math.max(this.cpuPeak, ((cpu - this.lastCpu) / dt) * 100);
    this.lastCpu = cpu;
    this.lastT = now;
  }

  private threadSummary(seconds: number): ThreadSummary {
    const pct = (s: number) => (seconds > 0 ? (s / seconds) * 100 : 0);
    // Threads are read at start and stop only (cheap beside a 20 ms RSS sampler); one that ended meanwhile is not counted.
    const used = [...threadCpuSeconds(this.pid)].map(([tid, c]) => [tid, c - (this.threads0.get(tid) ?? 0)] as const);
    const cores = coreTimes();
    return {
      mainPct: pct(used.find(([tid]) => tid === this.pid)?.[1] ?? 0),
      otherPct: used.filter(([tid]) => tid !== this.pid).map(([, c]) => pct(c)).sort((a, b) => b - a),
      corePct: cores.map((c, i) => {
        const b = this.cores0[i];
        return b && c.total > b.total ? ((c.busy - b.busy) / (c.total - b.total)) * 100 : 0;
      }),
    };
  }

  /** Stops sampling and returns the summary. */
  stop(): SampleSummary {
    this.tick();
    clearInterval(this.timer);
    const seconds = (performance.now() - this.t0) / 1000;
    const used = cpuSeconds(this.pid) - this.cpu0;
    return {
      seconds,
      rssStart: this.rss0,
      rssMax: this.rssMax,
      hwmEnd: memory(this.pid).hwm,
      cpuSeconds: used,
      cpuAvgPct: seconds > 0 ? (used / seconds) * 100 : 0,
      cpuPeakPct: this.cpuPeak,
      threads: this.threadSummary(seconds),
    };
  }
}

/** Returns bytes as MiB with one decimal. */
export function mib(bytes: number): string {
  return (bytes / MiB).toFixed(1);
}

/** TCP counters of the kernel's /proc/<pid>/net/netstat (the network namespace pid lives in) that say connections were lost before accept(). */
export interface ListenCounters {
  /** Completed handshakes dropped because the accept queue (the listen backlog) was full. */
  listenOverflows: number;
  /** Every SYN or handshake-completing ACK a listening socket dropped (overflows included). */
  listenDrops: number;
}

/** Returns pid's namespace's listen-queue counters (zeros when the process is gone). */
export function listenCounters(pid: number): ListenCounters {
  try {
    const lines = readFileSync(`/proc/${pid}/net/netstat`, 'utf8').split('\n');
    for (let i = 0; i + 1 < lines.length; i += 2) {
      if (!lines[i]!.startsWith('TcpExt:')) continue;
      const names = lines[i]!.trim().split(/\s+/);
      const values = lines[i + 1]!.trim().split(/\s+/).map(Number);
      const at = (name: string) => values[names.indexOf(name)] ?? 0;
      return { listenOverflows: at('ListenOverflows'), listenDrops: at('ListenDrops') };
    }
  } catch {
    /* gone */
  }
  return { listenOverflows: 0, listenDrops: 0 };
}
