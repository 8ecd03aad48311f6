// The contract between the orchestrator (bench/run.ts) and one figure, which runs inside the
// network namespace the orchestrator made for it.
import type { FigureResult } from '../lib/result.ts';

/** What a figure is given. */
export interface FigureContext {
  /** Working folder (mode 0755 so peers that drop privileges can read it); removed afterwards. */
  dir: string;
  /** The namespace this figure runs in (servers live here). */
  ns: string;
  /** A second namespace linked to ns by a veth pair (DHCP and the boot storm). */
  client?: { ns: string; serverIf: string; clientIf: string; serverIp: string; clientIp: string; prefix: number };
  /** When set, kickstand runs with `node --cpu-prof` and writes its profiles here. */
  profileDir?: string;
  /** Shorter runs, for trying the bench out (not for BENCHMARKS.md). */
  quick: boolean;
  /** `--machines N`: how many machines or systems the storm and first-fetch figures use instead of their default. */
  machines?: number;
  /** The host's neighbour-table thresholds during the run, when the orchestrator raised them (bench/lib/neigh.ts). */
  neighbours?: string;
  /** Prints a progress line. */
  log(line: string): void;
}

/** What a figure returns; the orchestrator adds the machine, date and duration. */
export type FigureOutput = Omit<FigureResult, 'id' | 'date' | 'seconds' | 'machine'>;

/** Runs one figure. */
export type Figure = (ctx: FigureContext) => Promise<FigureOutput>;
