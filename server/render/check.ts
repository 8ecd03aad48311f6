// Load-time rules on a template's syntax tree: every value that reaches output goes through the
// quoting helper of the language the template (or, in a kickstart, the current section) speaks.
// A bare `{{hostname}}` in a shell script, a `{{sq …}}` on a kickstart command line, a `lookup`,
// a decorator or an unknown partial stops start-up with the file, line and column.
import { TemplateError } from '../errors.ts';
import { BLOCK_HELPERS, VALUE_HELPERS } from './helpers.ts';

/** The output language of a template; kickstarts switch to `sh` inside %pre/%post/%onerror and `pkg` inside %packages. */
export type Mode = 'sh' | 'ks' | 'pkg' | 'py' | 'xl' | 'pxe' | 'ipxe' | 'grub';

/** Quoting helpers allowed in a mustache, per language. */
export const ALLOWED: Readonly<Record<Mode, readonly string[]>> = {
  sh: ['sq'],
  ks: ['ks', 'ksq'],
  pkg: ['kspkg'],
  py: ['py', 'num'],
  xl: ['xl', 'num'],
  pxe: ['karg', 'num'],
  ipxe: ['ipxe', 'num'],
  grub: ['grub', 'num'],
};

/** Returns the language of a template file from its name, or null for a name kickstand does not know. */
export function modeOf(relPath: string): Mode | null {
  const base = relPath.split('/').pop()!;
  if (base.endsWith('.sh.hbs')) return 'sh';
  if (base.endsWith('.ks.hbs')) return 'ks';
  if (base === 'xm.cfg.hbs') return 'py';
  if (base === 'xl.cfg.hbs') return 'xl';
  if (base.endsWith('ipxe.hbs')) return 'ipxe';
  if (base.startsWith('grub') && base.endsWith('.cfg.hbs')) return 'grub';
  if (base.endsWith('.cfg.hbs')) return 'pxe';
  return null;
}

interface State {
  file: string;
  /** Current language (changes at kickstart section headers). */
  mode: Mode;
  /** The template's own language: ks templates start every section over from here. */
  base: Mode;
  atLineStart: boolean;
  partials: ReadonlyMap<string, Mode>;
}

/** Throws TemplateError when the template breaks a quoting rule; partials maps partial names to their language. */
export function checkTemplate(ast: hbs.AST.Program, file: string, mode: Mode, partials: ReadonlyMap<string, Mode>): void {
  walk(ast, { file, mode, base: mode, atLineStart: true, partials });
}

function fail(s: State, node: hbs.AST.Node, message: string): never {
  const at = node.loc ? `:${node.loc.start.line}:${node.loc.start.column + 1}` : '';
  throw new TemplateError(`${s.file}${at}: ${message}`);
}

function walk(program: hbs.AST.Program, s: State): void {
  for (const node of program.body) {
    switch (node.type) {
      case 'ContentStatement':
        content((node as hbs.AST.ContentStatement).value, s);
        break;
      case 'CommentStatement':
        break;
      case 'MustacheStatement':
        mustache(node as hbs.AST.MustacheStatement, s);
        s.atLineStart = false;
        break;
      case 'BlockStatement':
        block(node as hbs.AST.BlockStatement, s);
        break;
      case 'PartialStatement':
        partial(node as hbs.AST.PartialStatement, s);
        s.atLineStart = true;
        break;
      default:
        fail(s, node, `${node.type} is not allowed in kickstand templates (no decorators or partial blocks)`);
    }
  }
}

/** Follows kickstart section headers (%pre, %post, %packages, %end …) at the start of lines. */
function content(text: string, s: State): void {
  if (s.base !== 'ks') return;
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (i === 0 && !s.atLineStart) return;
    if (/^%(pre|post|pre-install|onerror|traceback)\b/.test(line)) s.mode = 'sh';
    else if (/^%packages\b/.test(line)) s.mode = 'pkg';
    else if (/^%(end|addon|anaconda)\b/.test(line)) s.mode = 'ks';
  });
  s.atLineStart = text.endsWith('\n') || (s.atLineStart && text === '');
}

function mustache(node: hbs.AST.MustacheStatement, s: State): void {
  const path = node.path as hbs.AST.PathExpression;
  const name = path.type === 'PathExpression' ? path.original : String((node.path as { original?: unknown }).original);
  const allowed = ALLOWED[s.mode];
  if (path.type !== 'PathExpression' || !allowed.includes(name)) {
    const hint = `use {{${allowed[0]} ${node.params.length === 0 ? name : '…'}}}`;
    fail(s, node, `{{${name}${node.params.length ? ' …' : ''}}} outputs a value without ${s.mode === s.base ? `a ${s.mode} quoting helper` : `the quoting helper of this ${s.mode} section`} (${allowed.join(', ')}); ${hint}`);
  }
  if (node.params.length === 0) fail(s, node, `{{${name}}} needs a value`);
  noHash(node.hash, s);
  for (const p of node.params) expression(p, s);
}

function block(node: hbs.AST.BlockStatement, s: State): void {
  const name = node.path.original;
  if (!(BLOCK_HELPERS as readonly string[]).includes(name)) fail(s, node, `{{#${name}}} is not one of the block helpers ${BLOCK_HELPERS.join(', ')}`);
  if (node.params.length !== 1) fail(s, node, `{{#${name}}} takes exactly one value`);
  noHash(node.hash, s);
  expression(node.params[0]!, s);
  const mode = s.mode;
  walk(node.program, s);
  if (node.inverse) {
    const after = s.mode;
    s.mode = mode;
    walk(node.inverse, s);
    s.mode = after;
  }
}

function partial(node: hbs.AST.PartialStatement, s: State): void {
  if (node.name.type !== 'PathExpression') fail(s, node, 'dynamic partial names are not allowed');
  const name = node.name.original;
  const mode = s.partials.get(name);
  if (mode === undefined) fail(s, node, `no partial named ${JSON.stringify(name)} (partials live in a partials/ folder)`);
  if (mode !== s.mode) fail(s, node, `partial ${JSON.stringify(name)} is ${mode} but this part of the template is ${s.mode}`);
  noHash(node.hash, s);
  if (node.params.length > 0) fail(s, node, `partial ${JSON.stringify(name)} takes no arguments (partials render in the including template's context)`);
}

/** Checks a helper argument: a path, a literal, or a value helper over such arguments. */
function expression(node: hbs.AST.Expression, s: State): void {
  if (node.type === 'SubExpression') {
    const sub = node as hbs.AST.SubExpression;
    if (!(sub.path.original in VALUE_HELPERS)) fail(s, node, `(${sub.path.original} …) is not one of the value helpers ${Object.keys(VALUE_HELPERS).join(', ')}`);
    noHash(sub.hash, s);
    for (const p of sub.params) expression(p, s);
    return;
  }
  if (node.type === 'PathExpression') {
    const p = node as hbs.AST.PathExpression;
    if (p.parts.some((part: string) => part === '__proto__' || part === 'constructor' || part === 'prototype')) fail(s, node, `${p.original} reaches into prototypes`);
    return;
  }
  if (['StringLiteral', 'NumberLiteral', 'BooleanLiteral'].includes(node.type)) return;
  fail(s, node, `${node.type} is not allowed as a helper argument`);
}

function noHash(hash: hbs.AST.Hash | undefined, s: State): void {
  if (hash && hash.pairs.length > 0) fail(s, hash, 'hash arguments (key=value) are not allowed');
}
