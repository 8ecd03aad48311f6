// `kickstand serve`: load the configuration, start every part, tell systemd when ready (Type=notify),
// reload profiles, templates and the reloadable configuration on SIGHUP, stop cleanly on SIGINT/SIGTERM.
import { loadConfig } from '../config/load.ts';
import { createLogger } from '../log.ts';
import { startKickstand } from '../main.ts';
import { sdNotify } from './sd-notify.ts';
import { parse, UsageError } from './usage.ts';

/** Runs the service until a signal; returns 0 after a clean stop. */
export async function serveCommand(configFile: string | undefined, args: string[]): Promise<number> {
  const a = parse(args, {}, true);
  if (a.positionals.length > 0) throw new UsageError(`serve takes no arguments, got ${JSON.stringify(a.positionals[0])}`);
  const config = loadConfig({ file: configFile });
  const log = createLogger({ level: config.log_level });
  const running = await startKickstand(config, log, { reloadConfig: () => loadConfig({ file: configFile }) });
  log.info({ pid: process.pid, http: running.httpPort, tftp: running.tftpPort }, 'kickstand ready');
  await sdNotify(['--ready', `--status=serving HTTP on ${running.httpPort}${running.tftpPort ? `, TFTP on ${running.tftpPort}` : ''}`], { log });
  const onHup = () => {
    log.info({ signal: 'SIGHUP' }, 'reloading');
    void sdNotify(['RELOADING=1'], { log })
      .then(() => running.reload())
      .then((r) => sdNotify(['READY=1', `STATUS=${r.ok ? 'reloaded' : `reload refused: ${r.error}`}`], { log }));
  };
  process.on('SIGHUP', onHup);
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      log.info({ signal: sig }, 'stopping');
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  process.off('SIGHUP', onHup);
  await sdNotify(['STOPPING=1'], { log });
  await running.close();
  return 0;
}
