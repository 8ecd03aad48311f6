// `kickstand serve`: load the configuration, start every part, stop cleanly on SIGINT/SIGTERM.
import { loadConfig } from '../config/load.ts';
import { createLogger } from '../log.ts';
import { startKickstand } from '../main.ts';
import { parse, UsageError } from './usage.ts';

/** Runs the service until a signal; returns 0 after a clean stop. */
export async function serveCommand(configFile: string | undefined, args: string[]): Promise<number> {
  const a = parse(args, {}, true);
  if (a.positionals.length > 0) throw new UsageError(`serve takes no arguments, got ${JSON.stringify(a.positionals[0])}`);
  const config = loadConfig({ file: configFile });
  const log = createLogger({ level: config.log_level });
  const running = await startKickstand(config, log);
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      log.info({ signal: sig }, 'stopping');
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await running.close();
  return 0;
}
