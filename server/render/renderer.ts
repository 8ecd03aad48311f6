// The render engine: one handlebars instance, every template under templates/ parsed, checked
// (check.ts) and compiled at start, so a syntax error, an unknown helper or an unquoted value
// stops start-up with the file and line. Rendering is then a call of a compiled function on a
// plain context.
import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import Handlebars from 'handlebars';
import type { HelperDelegate } from 'handlebars';
import { KickstandError, NotFoundError, TemplateError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { applicable, ARTIFACT_TEMPLATES, GLOBAL_TEMPLATES, type ArtifactKind, type GlobalKind } from './artifacts.ts';
import { ALLOWED, checkTemplate, modeOf, type Mode } from './check.ts';
import type { RenderContext } from './context.ts';
import { BLOCK_HELPERS, QUOTING_HELPERS, VALUE_HELPERS, strictBlock } from './helpers.ts';
import { checkPxelinux } from './pxe-limits.ts';
import { ParseCache } from '../parse-cache.ts';
import { byName } from '../order.ts';
import { compileInWorker } from './compile-worker.ts';

/** Context of the artifacts that belong to no system (default pxelinux menu, iPXE entry script). */
export interface GlobalContext {
  urls: { base: string };
}

/** Renders artifacts from compiled templates. */
export interface Renderer {
  /** Returns the artifact of one system; throws NotFoundError when the kind does not apply to it, TemplateError when rendering fails. */
  render(kind: ArtifactKind, ctx: RenderContext): string;
  /** Returns an artifact that belongs to no system. */
  renderGlobal(kind: GlobalKind, ctx: GlobalContext): string;
  /** Names of the templates loaded (relative to the templates folder, without .hbs), sorted. */
  readonly templates: readonly string[];
  /** Names of the kickstart templates (kickstart/<name>.ks.hbs), sorted. */
  readonly kickstarts: readonly string[];
  /** Resolves once every template is compiled (on the worker thread, or on first use). */
  whenWarm(): Promise<void>;
}

export interface RendererOptions {
  templatesDir: string;
  log: Logger;
  /** Wait this long after loading before compiling the templates not used yet on a worker thread. */
  warmDelayMs?: number;
  /** File that keeps parsed templates between starts (parse-cache.ts); none when unset. */
  parseCacheFile?: string;
}

/** By default, templates not rendered yet are compiled from a second after load (start-up is done by then). */
export const WARM_DELAY_MS = 1000;

type Compiled = (ctx: unknown) => string;

/** A template of the renderer: compiled on first use, or earlier by the warm-up (ready). */
interface CompiledEntry {
  file: string;
  mode: Mode;
  ready: boolean;
  /** Its AST with the partials inlined. */
  ast: () => hbs.AST.Program;
  fn: Compiled;
}

/** Returns every *.hbs file below dir, relative to dir, sorted. */
async function hbsFiles(dir: string, root = dir): Promise<string[]> {
  const out: string[] = [];
  for (const e of (await readdir(dir, { withFileTypes: true })).sort(byName)) {
    if (e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await hbsFiles(p, root)));
    else if (e.name.endsWith('.hbs')) out.push(relative(root, p));
  }
  return out;
}

/** Returns a handlebars instance with kickstand's helpers and nothing else. */
function instance(): typeof Handlebars {
  const hb = Handlebars.create();
  for (const name of ['log', 'lookup']) hb.unregisterHelper(name);
  for (const name of BLOCK_HELPERS) hb.registerHelper(name, strictBlock(name, hb.helpers[name] as HelperDelegate));
  hb.registerHelper({ ...QUOTING_HELPERS, ...VALUE_HELPERS });
  return hb;
}

/** Returns handlebars' compile options for a template of one mode. */
function compileOptions(mode: Mode): Record<string, unknown> {
  const knownHelpers: Record<string, boolean> = {};
  for (const h of [...ALLOWED[mode], ...(mode === 'ks' ? [...ALLOWED.sh, ...ALLOWED.pkg] : []), ...Object.keys(VALUE_HELPERS), ...BLOCK_HELPERS]) knownHelpers[h] = true;
  return { noEscape: true, strict: true, knownHelpersOnly: true, knownHelpers, preventIndent: true, data: true };
}

/** Returns a compiled template of one file, compiling now (handlebars would compile on first use). */
function compile(hb: typeof Handlebars, ast: hbs.AST.Program, mode: Mode): Compiled {
  const options = compileOptions(mode);
  const engine = hb as unknown as {
    Compiler: new () => { compile(ast: unknown, options: unknown): unknown };
    JavaScriptCompiler: new () => { compile(env: unknown, options: unknown, context: undefined, asObject: true): unknown };
  };
  const environment = new engine.Compiler().compile(ast, options);
  const spec = new engine.JavaScriptCompiler().compile(environment, options, undefined, true);
  return hb.template(spec as TemplateSpecification) as unknown as Compiled;
}

/** Returns the template whose spec source the compile worker made (the same spec compile() builds as an object). */
function fromSource(hb: typeof Handlebars, source: string): Compiled {
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- handlebars' own generated code, as compile() runs it
  return hb.template(new Function(`return ${source}`)() as TemplateSpecification) as unknown as Compiled;
}
type TemplateSpecification = Parameters<typeof Handlebars.template>[0];

/** Returns a renderer with every template under templatesDir compiled; throws TemplateError naming the file and line. */
export async function loadRenderer({ templatesDir, log, warmDelayMs = WARM_DELAY_MS, parseCacheFile }: RendererOptions): Promise<Renderer> {
  const hb = instance();
  const files = await hbsFiles(templatesDir);
  const parsed = new Map<string, { file: string; ast: hbs.AST.Program; mode: Mode; partial: boolean }>();
  const partialModes = new Map<string, Mode>();
  const cache = new ParseCache<hbs.AST.Program>(parseCacheFile ?? null, `handlebars ${Handlebars.VERSION}`);
  for (const rel of files) {
    const file = join(templatesDir, rel);
    const mode = modeOf(rel);
    if (mode === null) throw new TemplateError(`${file}: unknown template type (expected *.sh.hbs, *.ks.hbs, xen/xm.cfg.hbs, xen/xl.cfg.hbs, *.cfg.hbs, *ipxe.hbs or *.xml.hbs)`);
    let ast: hbs.AST.Program;
    try {
      ast = cache.get(readFileSync(file, 'utf8'), (text) => hb.parse(text));
    } catch (e) {
      throw new TemplateError(`${file}: ${firstLine(e)}`, { cause: e });
    }
    const partial = rel.split('/').includes('partials');
    const name = partial ? rel.split('/').pop()!.replace(/\.[a-z]+\.hbs$/, '') : rel.replace(/\.hbs$/, '');
    if (partial && partialModes.has(name)) throw new TemplateError(`${file}: a partial named ${JSON.stringify(name)} already exists`);
    if (partial) partialModes.set(name, mode);
    parsed.set(name, { file, ast, mode, partial });
  }
  for (const t of parsed.values()) checkTemplate(t.ast, t.file, t.mode, partialModes);
  const unsaved = cache.save();
  if (unsaved) log.warn({ file: parseCacheFile, err: unsaved }, `parsed templates not cached: ${unsaved}`);
  const partialAsts = new Map([...parsed].filter(([, t]) => t.partial).map(([n, t]) => [n, t.ast]));
  // Parsing and checking above catch every template error at start; turning the checked AST into
  // a function is most of the load time, so it happens on first use or, once start-up is done, on
  // a worker thread (compile-worker.ts), the loop only turning each answer into a function.
  const compiled = new Map<string, CompiledEntry>();
  for (const [name, t] of parsed) {
    if (t.partial) continue;
    const entry: CompiledEntry = {
      file: t.file,
      mode: t.mode,
      ready: false,
      ast: () => inlinePartials(t.ast, partialAsts, t.file),
      fn: (ctx: unknown): string => {
        if (!entry.ready) {
          try {
            entry.fn = compile(hb, entry.ast(), t.mode);
          } catch (e) {
            throw new TemplateError(`${t.file}: ${firstLine(e)}`, { cause: e });
          }
          entry.ready = true;
        }
        return entry.fn(ctx);
      },
    };
    compiled.set(name, entry);
  }
  let warmed!: () => void;
  const whenWarm = new Promise<void>((resolve) => (warmed = resolve));
  /** Gives an entry its function, or one that throws why it does not compile (logged once, here). */
  const settle = (e: CompiledEntry, make: () => Compiled) => {
    try {
      e.fn = make();
    } catch (err) {
      log.error({ file: e.file, err: firstLine(err) }, `template ${e.file} does not compile: ${firstLine(err)}`);
      e.fn = () => {
        throw new TemplateError(`${e.file}: ${firstLine(err)}`, { cause: err });
      };
    }
    e.ready = true;
  };
  // Without the worker: one template per turn of the loop.
  const warmHere = () => {
    const next = [...compiled.values()].find((e) => !e.ready);
    if (!next) return warmed();
    settle(next, () => compile(hb, next.ast(), next.mode));
    setImmediate(warmHere).unref();
  };
  const warm = () => {
    const cold = [...compiled].filter(([, e]) => !e.ready);
    // Everything was rendered (so compiled) before the warm-up: no worker to start.
    if (cold.length === 0) return warmed();
    compileInWorker(
      () => {
        // Skips what a render compiled meanwhile.
        while (cold.length > 0 && cold[0]![1].ready) cold.shift();
        const job = cold.shift();
        return job ? { name: job[0], ast: job[1].ast(), options: compileOptions(job[1].mode) } : null;
      },
      (r) => {
        const e = compiled.get(r.name);
        if (!e || e.ready) return;
        settle(e, () => {
          if ('error' in r) throw new Error(r.error);
          return fromSource(hb, r.source);
        });
      },
      (failure) => {
        if (failure) log.warn({ err: failure }, 'templates compile on the event loop instead');
        warmHere();
      },
    );
  };
  setTimeout(warm, warmDelayMs).unref();
  for (const name of [...Object.values(ARTIFACT_TEMPLATES), ...Object.values(GLOBAL_TEMPLATES)]) {
    if (name !== null && !compiled.has(name)) throw new TemplateError(`${join(templatesDir, name)}.hbs: missing (every artifact needs its template)`);
  }
  const kickstarts = [...compiled.keys()].filter((n) => /^kickstart\/[^/]+\.ks$/.test(n)).map((n) => n.slice('kickstart/'.length, -'.ks'.length));
  if (kickstarts.length === 0) throw new TemplateError(`${templatesDir}/kickstart: no *.ks.hbs templates`);
  log.info({ templates: compiled.size, partials: partialModes.size }, 'templates compiled');

  const run = (name: string, ctx: unknown, what: string): string => {
    const t = compiled.get(name);
    if (!t) throw new NotFoundError(`${what}: no template ${name}.hbs`);
    try {
      return t.fn(ctx);
    } catch (e) {
      if (e instanceof KickstandError && !(e instanceof TemplateError)) throw e;
      // The template's name relative to the templates folder: render errors reach API clients.
      throw new TemplateError(`${what}: template ${name}.hbs: ${firstLine(e)}`, { cause: e });
    }
  };

  return {
    whenWarm() {
      // The warm-up keeps no process alive; one waiting for it does, until it is done.
      const keep = setInterval(() => undefined, 1000);
      return whenWarm.finally(() => clearInterval(keep));
    },
    templates: [...compiled.keys()].sort(),
    kickstarts: kickstarts.sort(),
    render(kind, ctx) {
      const why = applicable(kind, ctx);
      if (why !== null) throw new NotFoundError(`render ${kind} for system ${JSON.stringify(ctx.system.name)}: ${why}`);
      const name = kind === 'kickstart' ? `kickstart/${ctx.kickstart.template}.ks` : ARTIFACT_TEMPLATES[kind]!;
      const out = run(name, ctx, `render ${kind} for system ${JSON.stringify(ctx.system.name)}`);
      if (kind === 'pxelinux' || kind === 'isolinux') checkPxelinux(out, `render pxelinux for system ${JSON.stringify(ctx.system.name)}`);
      return out;
    },
    renderGlobal(kind, ctx) {
      const out = run(GLOBAL_TEMPLATES[kind], ctx, `render ${kind}`);
      if (kind === 'pxelinux-default') checkPxelinux(out, 'render pxelinux-default');
      return out;
    },
  };
}

/**
 * Returns the template with every `{{> partial}}` replaced by the partial's statements (checked on
 * their own at load), so a render is one function call: handlebars would set up a fresh helper and
 * partial table for every partial it invokes, which halves the kickstart render rate.
 */
function inlinePartials(ast: hbs.AST.Program, partials: ReadonlyMap<string, hbs.AST.Program>, file: string, depth = 0): hbs.AST.Program {
  if (depth > 8) throw new TemplateError(`${file}: partials nest more than 8 deep (a partial includes itself?)`);
  const body: hbs.AST.Statement[] = [];
  for (const node of ast.body) {
    if (node.type === 'PartialStatement') {
      const p = node as hbs.AST.PartialStatement;
      const name = (p.name as hbs.AST.PathExpression).original;
      body.push(...inlinePartials(partials.get(name)!, partials, file, depth + 1).body);
    } else if (node.type === 'BlockStatement') {
      const b = node as hbs.AST.BlockStatement;
      body.push({ ...b, program: inlinePartials(b.program, partials, file, depth), inverse: b.inverse && inlinePartials(b.inverse, partials, file, depth) } as hbs.AST.BlockStatement);
    } else body.push(node);
  }
  return { ...ast, body };
}

/** Returns the first line of an error's message (handlebars adds source excerpts below it). */
function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const lines = msg.split('\n');
  // Handlebars parse errors read "Parse error on line N:\n<excerpt>\n^\nExpecting …": keep the line and the expectation.
  if (/^Parse error on line \d+:/.test(lines[0]!)) return `${lines[0]} ${lines.slice(3).join(' ')}`.trim();
  return lines[0]!;
}
