// The `kickstand` command: parses the subcommand and hands over; bad usage exits 2 with one line.
import { KickstandError } from '../errors.ts';
import { HELP, parse, UsageError } from './usage.ts';
import { openContext } from './context.ts';
import { systemCommand } from './system.ts';
import { profileCommand, renderCommand } from './profile.ts';
import { isoCommand, buildisoCommand } from './iso.ts';
import { serveCommand } from './serve.ts';

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
  const configFile = parse(rest, {}, true).values.config;
  const args = stripConfig(rest);
  if (cmd === 'serve') return serveCommand(configFile, args);
  if (cmd === 'iso' && args[0] === 'inspect') return isoCommand(null, args, out);
  const ctx = openContext(configFile);
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

/** Returns args without --config and its value (every command accepts it). */
function stripConfig(args: string[]): string[] {
  const outArgs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--config') i++;
    else if (!args[i]!.startsWith('--config=')) outArgs.push(args[i]!);
  }
  return outArgs;
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
  process.stderr.write(`kickstand: ${(err as Error)?.stack ?? String(err)}\n`);
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
