// The `kickstand` command: parses the subcommand and hands over; bad usage exits 2 with one line.
import { KickstandError } from '../errors.ts';
import { HELP, UsageError } from './usage.ts';
import type { CliContext } from './context.ts';

// Each command's module (and what it pulls in: express, handlebars, the ISO reader…) is imported
// only when that command runs, so a short command starts as fast as node itself.
type Command = (ctx: CliContext, args: string[], out: (s: string) => void) => Promise<number>;
const COMMANDS: Record<string, () => Promise<Command>> = {
  system: async () => (await import('./system.ts')).systemCommand,
  profile: async () => (await import('./profile.ts')).profileCommand,
  render: async () => (await import('./profile.ts')).renderCommand,
  iso: async () => (await import('./iso.ts')).isoCommand,
  buildiso: async () => (await import('./iso.ts')).buildisoCommand,
};

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
  if (cmd === 'serve') return (await import('./serve.ts')).serveCommand(configFile, args);
  if (cmd === 'backup') return (await import('./backup.ts')).backupCommand(configFile, args, out);
  if (cmd === 'restore') return (await import('./backup.ts')).restoreCommand(configFile, args, out);
  if (cmd === 'store') return (await import('./store.ts')).storeCommand(args, out);
  if (cmd === 'iso' && args[0] === 'inspect') return (await import('./iso.ts')).isoCommand(null, args, out);
  const load = COMMANDS[cmd];
  if (!load) throw new UsageError(`unknown command ${JSON.stringify(cmd)}`);
  const command = await load();
  // Listing or showing profiles reads YAML only: it opens no logger (pino is a tenth of its start-up).
  const readsProfiles = cmd === 'profile' && (args[0] === 'list' || args[0] === 'show');
  const ctx = await (await import('./context.ts')).openContext(configFile, { logger: !readsProfiles });
  try {
    return await command(ctx, args, out);
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

/** Runs the CLI on process.argv and sets the exit code (the serve command keeps running until a signal). */
export function main(): void {
  run(process.argv.slice(2)).then(
    (code) => {
      if (code !== 0 || process.argv[2] !== 'serve') process.exitCode = code;
    },
    (err) => {
      process.exitCode = reportError(err);
    },
  );
}

// `node server/cli/main.ts` (through tsx) or `node dist/cli/main.js`; bin/kickstand.js calls main() itself.
if (process.argv[1] && /cli[\\/]main\.[jt]s$/.test(process.argv[1])) main();
