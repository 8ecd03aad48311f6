// Summarises a V8 .cpuprofile (written by `node --cpu-prof`): self time per function, and time per
// area (kickstand's own code, each npm package, Node internals, GC, idle), so the report can say
// where a figure's time went.
//   node --import tsx bench/lib/profile.ts FILE.cpuprofile [top=25]
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Where a profile's time went. */
export interface ProfileSummary {
  totalMs: number;
  /** Busy time: everything but (idle) and (program). */
  busyMs: number;
  top: Array<{ fn: string; where: string; selfMs: number; pct: number }>;
  /** Functions by inclusive time (self plus callees), kickstand's own code only. */
  inclusive: Array<{ fn: string; where: string; totalMs: number; pct: number }>;
  areas: Array<{ area: string; selfMs: number; pct: number }>;
}

/** Returns the area a script URL belongs to: kickstand's files, an npm package, node, or V8's own buckets. */
export function areaOf(frame: CallFrame): string {
  const u = frame.url;
  if (!u) return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u);
  if (pkg) return pkg[1];
  if (u.startsWith('node:')) return 'node';
  const own = /\/(server|bench|test)\/(.+?)(?:\.ts)?$/.exec(u);
  if (own) return `${own[1]}/${own[2].split('/')[0]}`;
  return u;
}

/** Returns self times per function and per area, sorted, from a parsed profile. */
export function summarize(p: CpuProfile, top = 25): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  const fns = new Map<string, { fn: string; where: string; selfMs: number }>();
  const areas = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, ms] of self) {
    const f = byId.get(id)!.callFrame;
    total += ms;
    if (f.functionName === '(idle)' || f.functionName === '(program)') idle += ms;
    const where = f.url ? `${f.url.replace(/^file:\/\/.*?\/(node_modules|server|bench|test)\//, '$1/')}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName}@${where}`;
    const e = fns.get(key) ?? { fn: f.functionName || '(anonymous)', where, selfMs: 0 };
    e.selfMs += ms;
    fns.set(key, e);
    const area = areaOf(f);
    areas.set(area, (areas.get(area) ?? 0) + ms);
  }
  const busy = total - idle;
  // Inclusive time: each sample counts once for every distinct function on its stack.
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const incl = new Map<string, { fn: string; where: string; totalMs: number }>();
  for (const [id, ms] of self) {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      if (!/\/(server)\//.test(f.url)) continue;
      const where = `${f.url.replace(/^.*?\/server\//, 'server/')}:${f.lineNumber + 1}`;
      const key = `${f.functionName}@${where}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const e = incl.get(key) ?? { fn: f.functionName || '(anonymous)', where, totalMs: 0 };
      e.totalMs += ms;
      incl.set(key, e);
    }
  }
  const pct = (ms: number) => Math.round((ms / (busy || 1)) * 1000) / 10;
  return {
    totalMs: total,
    busyMs: busy,
    top: [...fns.values()].filter((e) => e.fn !== '(idle)' && e.fn !== '(program)').sort((a, b) => b.selfMs - a.selfMs).slice(0, top).map((e) => ({ ...e, pct: pct(e.selfMs) })),
    inclusive: [...incl.values()].sort((a, b) => b.totalMs - a.totalMs).slice(0, top).map((e) => ({ ...e, pct: pct(e.totalMs) })),
    areas: [...areas].filter(([a]) => a !== '(idle)' && a !== '(program)').map(([area, ms]) => ({ area, selfMs: ms, pct: pct(ms) })).sort((a, b) => b.selfMs - a.selfMs),
  };
}

/** Returns the summary of a .cpuprofile file. */
export function summarizeFile(path: string, top = 25): ProfileSummary {
  return summarize(JSON.parse(readFileSync(path, 'utf8')) as CpuProfile, top);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const s = summarizeFile(process.argv[2]!, Number(process.argv[3] ?? 25));
  console.log(`total ${(s.totalMs / 1000).toFixed(1)} s, busy ${(s.busyMs / 1000).toFixed(1)} s`);
  console.log('\nby area (self time, % of busy):');
  for (const a of s.areas.slice(0, 20)) console.log(`  ${a.pct.toFixed(1).padStart(5)}%  ${a.area}`);
  console.log('\ntop functions (self time):');
  for (const f of s.top) console.log(`  ${f.pct.toFixed(1).padStart(5)}%  ${f.fn}  ${f.where}`);
  console.log('\nkickstand functions by inclusive time:');
  for (const f of s.inclusive) console.log(`  ${f.pct.toFixed(1).padStart(5)}%  ${f.fn}  ${f.where}`);
}
