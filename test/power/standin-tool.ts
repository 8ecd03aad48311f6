// Stand-in executables for the power tools (ipmitool, virsh, xl, ssh): a small Node script per
// tool that records each call (argv, chosen environment variables, stdin) as a JSON line and
// answers from a table of canned replies, so unit tests see exactly what a driver runs.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One recorded call. */
export interface ToolCall {
  tool: string;
  argv: string[];
  env: Record<string, string | null>;
  stdin: string;
  /** Files the call named (`--file F`, `xl create F`), as they were when it ran. */
  files: Record<string, string>;
}

/** A canned reply: the first rule whose `match` words all appear in argv (in order) answers. */
export interface Reply {
  match: string[];
  stdout?: string;
  stderr?: string;
  code?: number;
  /** Sleep this long first (timeouts). */
  delayMs?: number;
}

const SCRIPT = `#!${process.execPath}
const fs = require('node:fs');
const path = require('node:path');
const dir = path.dirname(process.argv[1]);
const tool = path.basename(process.argv[1]);
const argv = process.argv.slice(2);
let stdin = '';
try { stdin = fs.readFileSync(0, 'utf8'); } catch {}
const env = {};
for (const k of ['IPMI_PASSWORD', 'IPMITOOL_PASSWORD', 'LIBVIRT_AUTH_FILE']) env[k] = process.env[k] ?? null;
const files = {};
argv.forEach((a, i) => { if (argv[i - 1] === '--file' || (tool === 'xl' && argv[i - 1] === 'create') || (tool === 'xl' && argv[i - 2] === 'config-update')) { try { files[a] = fs.readFileSync(a, 'utf8'); } catch {} } });
fs.appendFileSync(path.join(dir, 'calls.jsonl'), JSON.stringify({ tool, argv, env, stdin, files }) + '\\n');
const replies = JSON.parse(fs.readFileSync(path.join(dir, tool + '.replies.json'), 'utf8'));
const hit = replies.find((r) => { let i = 0; for (const a of argv) if (a === r.match[i]) i++; return i === r.match.length; }) || {};
setTimeout(() => {
  if (hit.stdout) process.stdout.write(hit.stdout);
  if (hit.stderr) process.stderr.write(hit.stderr);
  process.exit(hit.code ?? 0);
}, hit.delayMs ?? 0);
`;

/** A folder of stand-in tools; `path(tool)` is the executable to give a driver. */
export class StandinTools {
  readonly dir = mkdtempSync(join(tmpdir(), 'ks-standin-'));

  /** Creates (or re-arms) a tool with its replies. */
  tool(name: string, replies: Reply[]): string {
    const exe = join(this.dir, name);
    if (!existsSync(exe)) {
      writeFileSync(exe, SCRIPT);
      chmodSync(exe, 0o755);
    }
    writeFileSync(join(this.dir, `${name}.replies.json`), JSON.stringify(replies));
    return exe;
  }

  /** Returns the calls recorded so far, oldest first. */
  calls(): ToolCall[] {
    const f = join(this.dir, 'calls.jsonl');
    return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as ToolCall) : [];
  }

  /** Forgets the recorded calls. */
  reset(): void {
    rmSync(join(this.dir, 'calls.jsonl'), { force: true });
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
