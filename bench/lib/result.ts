// What one figure produces: a table of measurements per server, the targets checked, the exact
// commands, notes, and the machine it ran on. Saved as bench/results/<figure>.json so running one
// figure alone rewrites only its section of BENCHMARKS.md.
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { MachineInfo } from './machine.ts';

export const FIGURES = ['http', 'tftp', 'dhcp', 'tree', 'storm', 'cli', 'fleet', 'metrics', 'first-fetch'] as const;
export type FigureId = (typeof FIGURES)[number];

/** One target and whether the run met it. */
export interface Check {
  target: string;
  measured: string;
  /** kickstand ÷ peer, where the target is a ratio. */
  ratio?: string;
  pass: boolean;
}

/** A figure's table: column headings and pre-formatted rows. */
export interface Table {
  caption?: string;
  columns: string[];
  rows: string[][];
}

/** Everything one figure reports. */
export interface FigureResult {
  id: FigureId;
  title: string;
  /** ISO time the figure started. */
  date: string;
  seconds: number;
  tables: Table[];
  checks: Check[];
  commands: string[];
  notes: string[];
  machine: MachineInfo;
  /** Raw numbers, for whoever wants to re-derive the table. */
  raw?: unknown;
}

/** The folder results are kept in. */
export const RESULTS_DIR = new URL('../results/', import.meta.url).pathname;

/** Writes one figure's result. */
export function saveResult(r: FigureResult, dir = RESULTS_DIR): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${r.id}.json`), `${JSON.stringify(r, null, 1)}\n`);
}

/** Returns every saved result, in figure order. */
export function loadResults(dir = RESULTS_DIR): FigureResult[] {
  const out: FigureResult[] = [];
  for (const id of FIGURES) {
    const p = join(dir, `${id}.json`);
    if (existsSync(p)) out.push(JSON.parse(readFileSync(p, 'utf8')) as FigureResult);
  }
  return out;
}

/** Returns a number with a fixed count of decimals and thin grouping (12,345.6). */
export function fmt(n: number, decimals = 0): string {
  if (!Number.isFinite(n)) return String(n);
  return n.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

/** Returns a ratio a/b as "0.62×". */
export function ratio(a: number, b: number): string {
  return b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a';
}

/** Returns the median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Returns the p-th percentile (0–100, nearest rank) of a list of numbers. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))];
}
