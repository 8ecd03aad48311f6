// Renders BENCHMARKS.md from the saved figure results: a summary of every target, then each figure
// with its tables, commands and notes, and the machine and peer versions it ran with.
import type { FigureResult, Table } from './result.ts';
import type { MachineInfo } from './machine.ts';

const TITLES: Record<string, string> = { http: '1', tftp: '2', dhcp: '3', tree: '4', storm: '5', cli: '6', fleet: '7', metrics: '8', 'first-fetch': '9' };

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function table(t: Table): string[] {
  const out = t.caption ? [t.caption, ''] : [];
  out.push(`| ${t.columns.map(cell).join(' | ')} |`, `| ${t.columns.map(() => '---').join(' | ')} |`);
  for (const r of t.rows) out.push(`| ${r.map(cell).join(' | ')} |`);
  return [...out, ''];
}

function machineLine(m: MachineInfo): string {
  return `${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB memory, Linux ${m.kernel}, Node ${m.node}`;
}

function sameMachine(a: MachineInfo, b: MachineInfo): boolean {
  return a.cores === b.cores && a.cpuModel === b.cpuModel && a.memoryGiB === b.memoryGiB && a.node === b.node;
}

/** Returns the whole BENCHMARKS.md text; `analysis` (hand-written profile findings) closes it. */
export function renderReport(results: FigureResult[], analysis = ''): string {
  const lines: string[] = ['# Benchmarks', ''];
  lines.push(
    'kickstand against the tools operators use today, on the same machine in the same run, written by',
    '`npm run bench` (as root: it installs the peers with apt-get, and every server listens on the loopback',
    'of a network namespace the bench creates, or on a veth pair between two of them). One figure alone:',
    '`npm run bench -- http|tftp|dhcp|tree|storm|cli|fleet|metrics|first-fetch` (its section is rewritten, the others are kept).',
    '`--profile` writes V8 CPU profiles of kickstand to `artifacts/bench/`, `--quick` makes short runs (neither is',
    'recorded here), `--keep` keeps each figure\'s folder, `--report` only rewrites this file (the closing',
    'analysis is `bench/analysis.md`, written by hand from the profiles).',
    '',
  );
  if (results.length === 0) return `${lines.join('\n')}No figures yet.\n`;
  const first = results[0].machine;
  lines.push('## Machine', '', `- ${machineLine(first)}`);
  const peers = Object.entries(first.packages).filter(([, v]) => v).map(([k, v]) => `${k} ${v}`);
  lines.push(`- Debian packages: ${peers.join(', ')}`);
  lines.push(
    '- A virtual machine shared with other work: absolute numbers moved by up to 2× between runs an hour apart, so',
    '  compare the ratios, which come from one run with every server measured side by side (each figure gives its',
    '  date, commit and the 1-minute load at its start).',
    '',
  );

  lines.push('## Summary', '', '| # | figure | target | measured | ratio | result |', '| --- | --- | --- | --- | --- | --- |');
  for (const r of results) {
    for (const c of r.checks) lines.push(`| ${TITLES[r.id]} | ${cell(r.title)} | ${cell(c.target)} | ${cell(c.measured)} | ${c.ratio ?? ''} | ${c.pass ? 'pass' : '**FAIL**'} |`);
  }
  lines.push('');

  for (const r of results) {
    lines.push(`## ${TITLES[r.id]}. ${r.title}`, '');
    lines.push(`Run ${r.date.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}, ${Math.round(r.seconds)} s, commit ${r.machine.commit ?? 'unknown'}${sameMachine(r.machine, first) ? '' : `, on ${machineLine(r.machine)}`}; load ${r.machine.load1} at its start.`, '');
    for (const t of r.tables) lines.push(...table(t));
    lines.push('| target | measured | ratio | result |', '| --- | --- | --- | --- |');
    for (const c of r.checks) lines.push(`| ${cell(c.target)} | ${cell(c.measured)} | ${c.ratio ?? ''} | ${c.pass ? 'pass' : '**FAIL**'} |`);
    lines.push('', 'Commands:', '', '```sh', `npm run bench -- ${r.id}`, ...r.commands.map((c) => `# ${c}`), '```', '');
    if (r.notes.length > 0) lines.push(...r.notes.map((n) => `- ${n}`), '');
  }
  const short = results.flatMap((r) => r.checks.filter((c) => !c.pass).map((c) => ({ r, c })));
  lines.push('## Where kickstand falls short', '');
  if (short.length === 0) lines.push('Every target above was met in this run.', '');
  for (const { r, c } of short) lines.push(`- ${TITLES[r.id]}. ${r.title}: ${c.target}; measured ${c.measured}${c.ratio ? ` (${c.ratio})` : ''}.`);
  if (short.length > 0) lines.push('');
  if (analysis.trim()) lines.push(analysis.trim(), '');
  return lines.join('\n');
}
