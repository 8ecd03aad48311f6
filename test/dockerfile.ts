// Reads a Dockerfile into its instructions (continuation lines joined, comments dropped) and
// stages, so tests can check and run what a Docker build would run without a Docker engine.

/** One instruction: its keyword (upper case), its arguments as written, and its line number. */
export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

/** One stage: the FROM image, its `AS` name, and its instructions after FROM. */
export interface Stage {
  from: string;
  name: string | null;
  instructions: Instruction[];
}

const KEYWORDS = new Set(['FROM', 'RUN', 'CMD', 'LABEL', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT', 'VOLUME', 'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL']);

/** Returns the instructions of a Dockerfile; throws naming the line of an unknown keyword. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (/^\s*(#|$)/.test(lines[i]!)) continue;
    const start = i;
    let joined = lines[i]!;
    while (joined.endsWith('\\') && i + 1 < lines.length) joined = `${joined.slice(0, -1)} ${lines[++i]!.trim()}`;
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(joined);
    if (!m || !KEYWORDS.has(m[1]!.toUpperCase())) throw new Error(`Dockerfile line ${start + 1}: not an instruction: ${joined}`);
    out.push({ keyword: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start + 1 });
  }
  return out;
}

/** Returns the stages of a Dockerfile in order. */
export function dockerStages(text: string): Stage[] {
  const stages: Stage[] = [];
  for (const ins of parseDockerfile(text)) {
    if (ins.keyword === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m) throw new Error(`Dockerfile line ${ins.line}: bad FROM ${ins.args}`);
      stages.push({ from: m[1]!, name: m[2] ?? null, instructions: [] });
    } else {
      if (stages.length === 0) throw new Error(`Dockerfile line ${ins.line}: ${ins.keyword} before FROM`);
      stages[stages.length - 1]!.instructions.push(ins);
    }
  }
  return stages;
}

/** Returns the argv of an exec-form (JSON array) CMD or HEALTHCHECK CMD; throws for shell form. */
export function execForm(args: string): string[] {
  const json = args.replace(/^(?:--\S+\s+)*CMD\s+/, '');
  const argv = JSON.parse(json) as unknown;
  if (!Array.isArray(argv) || !argv.every((a) => typeof a === 'string')) throw new Error(`not an exec-form command: ${args}`);
  return argv as string[];
}
