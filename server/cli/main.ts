// The `kickstand` command: parses the subcommand and hands over; bad usage exits 2 with one line.
import { KickstandError } from '../errors.ts';
import { HELP, UsageError } from './usage.ts';
import { openContext } from './context.ts';
import { systemCommand } from './system.ts';
import { profileCommand, renderCommand } from './profile.ts';
import { isoCommand, buildisoCommand } from './iso.ts';
import { serveCommand } from './serve.ts';
import { storeCommand } from './store.ts';

const out = (s: string) => void process.stdout.write(s);

/** Runs the CLI with argv (without node and script); returns the exit code. */
export async function run(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    out(`${HELP.main}\n`);
    return cmd ? 0 : 2;
  }
  if (!(cmd in HELP) || cmd === 'main') throw new UsageError(`unknown command ${JSON.stringify(cmd)} (try kickstand --help)`);
  if (rest.includes('-h') || rest.includes('--help')) {
    out(`${HELP[cmd]}\n`);
    return 0;
  }
  const { configFile, args } = splitConfig(rest);
  if (cmd === 'serve') return serveCommand(configFile, args);
  if (cmd === 'iso' && args[0] === 'inspect') return isoCommand(null, args, out);
  if (cmd === 'store') return storeCommand(args, out);
  const ctx = await openContext(configFile);
  try {
    switch (cmd) {
      case 'system':
        return await systemCommand(ctx, args, out);
      case 'profile':
        return await profileCommand(ctx, args, out);
      case 'render':
        return await renderCommand(ctx, args, out);
      case 'iso':
        return await isoCommand(ctx, args, out);
      case 'buildiso':
        return await buildisoCommand(ctx, args, out);
      default:
        throw new UsageError(`unknown command ${JSON.stringify(cmd)}`);
    }
  } finally {
    await ctx.close();
  }
}

/** Returns the --config value (every command accepts it) and the other arguments. */
function splitConfig(argv: string[]): { configFile: string | undefined; args: string[] } {
  const args: string[] = [];
  let configFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--config') {
      configFile = argv[++i];
      if (configFile === undefined) throw new UsageError('--config needs a FILE');
    } else if (a.startsWith('--config=')) configFile = a.slice('--config='.length);
    else args.push(a);
  }
  return { configFile, args };
}

/** Prints an error the way the CLI does: usage errors exit 2, known errors 1, with one line. */
export function reportError(err: unknown): number {
  if (err instanceof UsageError) {
    process.stderr.write(`kickstand: ${err.message}\n`);
    return 2;
  }
  if (err instanceof KickstandError) {
    process.stderr.write(`kickstand: ${err.message}\n`);
    return err.code === 'bad_request' ? 2 : 1;
  }
  const sys = err as NodeJS.ErrnoException;
  if (sys && typeof sys.code === 'string' && typeof sys.syscall === 'string') {
    // A system error (port in use, permission denied): the message says it all.
    process.stderr.write(`kickstand: ${sys.message}\n`);
    return 1;
  }
  process.stderr.write(`kickstand: ${sys?.stack ?? String(err)}\n`);
  return 1;
}

const isMain = process.argv[1] && /(?:server[\\/]cli[\\/]main\.ts|bin[\\/]kickstand(?:\.js)?)$/.test(process.argv[1]);
if (isMain) {
  run(process.argv.slice(2)).then(
    (code) => {
      if (code !== 0 || process.argv[2] !== 'serve') process.exitCode = code;
    },
    (err) => {
      process.exitCode = reportError(err);
    },
  );
}
