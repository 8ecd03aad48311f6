// Runs one figure inside the namespace the orchestrator made for it:
//   node --import tsx bench/figure.ts <figure> <context json> <result file>
// Every process it starts is recorded in <dir>/pids and stopped by PID before it exits.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { recordPidsIn, stopAll } from './lib/procs.ts';
import type { FigureId } from './lib/result.ts';
import type { Figure, FigureContext } from './figures/types.ts';
import { httpFigure } from './figures/http.ts';
import { tftpFigure } from './figures/tftp.ts';
import { dhcpFigure } from './figures/dhcp.ts';
import { treeFigure } from './figures/tree.ts';
import { stormFigure } from './figures/storm.ts';
import { cliFigure } from './figures/cli.ts';
import { fleetFigure } from './figures/fleet.ts';
import { metricsFigure } from './figures/metrics.ts';
import { firstFetchFigure } from './figures/first-fetch.ts';

/** Every figure by name. */
export const FIGURE_RUNNERS: Record<FigureId, Figure> = { http: httpFigure, tftp: tftpFigure, dhcp: dhcpFigure, tree: treeFigure, storm: stormFigure, cli: cliFigure, fleet: fleetFigure, metrics: metricsFigure, 'first-fetch': firstFetchFigure };

const [id, ctxJson, out] = process.argv.slice(2);
const figure = FIGURE_RUNNERS[id as FigureId];
if (!figure || !ctxJson || !out) {
  console.error('usage: bench/figure.ts <figure> <context json> <result file>');
  process.exit(2);
}
const ctx = JSON.parse(ctxJson) as Omit<FigureContext, 'log'>;
recordPidsIn(join(ctx.dir, 'pids'));
const stop = (sig: string) => {
  console.error(`${id}: ${sig}, stopping what it started`);
  void stopAll(2000).then(() => process.exit(1));
};
process.once('SIGTERM', () => stop('SIGTERM'));
process.once('SIGINT', () => stop('SIGINT'));
try {
  const result = await figure({ ...ctx, log: (line) => console.log(`  [${id}] ${line}`) });
  writeFileSync(out, JSON.stringify(result));
} catch (err) {
  console.error(`  [${id}] failed: ${(err as Error).stack ?? err}`);
  process.exitCode = 1;
} finally {
  await stopAll(5000);
}
