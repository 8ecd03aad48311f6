// The only ways a value reaches rendered text: one quoting helper per output language. Each
// helper joins its arguments (so a template can build `file:/path,hda,w` from parts), refuses
// anything that is not a string or a finite number (a missing value is an error, not ""), and
// either quotes the result for its language or refuses characters the language cannot hold.
import type { HelperDelegate, HelperOptions } from 'handlebars';
import { TemplateError } from '../errors.ts';

/** Control characters no rendered artifact carries inside a value (tab included: it splits words). */
const CONTROL = /[\x00-\x1f\x7f]/;

/** Returns the text of a helper's arguments joined, or throws TemplateError naming the helper and the bad argument. */
function joined(helper: string, args: unknown[]): string {
  // Fast path: one string value (the common case), then the options object handlebars appends.
  if (args.length === 2 && typeof args[0] === 'string') return args[0];
  const options = args[args.length - 1] as HelperOptions & { loc?: { start: { line: number; column: number } } };
  const values = args.slice(0, -1);
  const at = options?.loc ? ` (line ${options.loc.start.line})` : '';
  if (values.length === 0) throw new TemplateError(`{{${helper}}}${at}: needs at least one value`);
  let out = '';
  for (const v of values) {
    if (typeof v === 'string') out += v;
    else if (typeof v === 'number' && Number.isFinite(v)) out += String(v);
    else throw new TemplateError(`{{${helper}}}${at}: expected a string or number, got ${v === undefined ? 'a missing value' : JSON.stringify(v) ?? typeof v}`);
  }
  return out;
}

/**
 * Throws TemplateError when text matches bad. The message names the helper, not the value: a value
 * may be a secret (a VNC password), and the renderer adds the template and line.
 */
function refuse(helper: string, text: string, bad: RegExp, what: string): void {
  if (bad.test(text)) throw new TemplateError(`{{${helper}}}: a value of ${text.length} characters contains ${what}`);
}

/** Returns text as one POSIX shell word in single quotes (' becomes '\''); refuses control characters. */
export function shellQuote(text: string): string {
  refuse('sq', text, CONTROL, 'a control character or newline');
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Returns text unchanged for an unquoted kickstart position; refuses spaces, quotes, backslashes, '#' and control characters. */
export function kickstartWord(text: string): string {
  refuse('ks', text, CONTROL, 'a control character or newline');
  refuse('ks', text, /[\s"'\\#]/, 'a space, quote, backslash or "#" (a kickstart word cannot hold it)');
  if (text === '') throw new TemplateError('{{ks}}: empty value (a kickstart option needs a word)');
  return text;
}

/** Returns text in double quotes for a quoted kickstart position; refuses '"', backslashes and control characters. */
export function kickstartQuoted(text: string): string {
  refuse('ksq', text, CONTROL, 'a control character or newline');
  refuse('ksq', text, /["\\]/, 'a double quote or backslash');
  return `"${text}"`;
}

/** Returns text unchanged as one %packages line (a package, @group or -exclusion); refuses control characters, '#' and a leading '%'. */
export function kickstartPackage(text: string): string {
  refuse('kspkg', text, CONTROL, 'a control character or newline');
  refuse('kspkg', text, /#|^%|^\s|\s$|^$/, 'a "#", a leading "%", or leading or trailing space (a %packages line cannot hold it)');
  return text;
}

/** Returns text as a Python string literal in single quotes (xm configs are Python); refuses control characters. */
export function pythonString(text: string): string {
  refuse('py', text, CONTROL, 'a control character or newline');
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Returns text as an xl config string in single quotes; refuses quotes, backslashes and control characters (xl has no escapes). */
export function xlString(text: string): string {
  refuse('xl', text, CONTROL, 'a control character or newline');
  refuse('xl', text, /['"\\]/, 'a quote or backslash (xl config strings have no escapes)');
  return `'${text}'`;
}

/** Returns text unchanged as one kernel argument or pxelinux word; refuses whitespace, quotes, backslashes and control characters. */
export function kernelWord(text: string): string {
  refuse('karg', text, CONTROL, 'a control character or newline');
  refuse('karg', text, /[\s"'\\]/, 'a space, quote or backslash (it would split or break the kernel command line)');
  return text;
}

/** Returns text unchanged as one iPXE word; refuses whitespace, '$' and '{}' (iPXE expands ${…}), quotes, '#', '|', '&', ';'. */
export function ipxeWord(text: string): string {
  refuse('ipxe', text, CONTROL, 'a control character or newline');
  refuse('ipxe', text, /[\s"'\\${}#|&;]/, 'a space or one of " \' \\ $ { } # | & ; (iPXE would split or expand it)');
  return text;
}

/** Returns text as one GRUB 2 script word in single quotes (GRUB keeps everything inside literally); refuses quotes and control characters. */
export function grubWord(text: string): string {
  refuse('grub', text, CONTROL, 'a control character or newline');
  refuse('grub', text, /['\\]/, 'a single quote or backslash (a GRUB word in single quotes cannot hold it)');
  return `'${text}'`;
}

/** Returns a finite number as decimal text; refuses anything else (numbers in configs stay bare). */
export function numberText(value: unknown): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new TemplateError(`{{num}}: expected a number, got ${value === undefined ? 'a missing value' : JSON.stringify(value)}`);
  return String(value);
}

/** Wraps a text quoter as a variadic handlebars helper; a refusal names the template line. */
function quoting(name: string, quote: (text: string) => string): HelperDelegate {
  return function (...args: unknown[]) {
    const text = joined(name, args);
    try {
      return quote(text);
    } catch (e) {
      const loc = (args[args.length - 1] as { loc?: { start: { line: number } } } | undefined)?.loc;
      if (e instanceof TemplateError && loc) throw new TemplateError(e.message.replace(/^(\{\{\w+\}\})/, `$1 (line ${loc.start.line})`));
      throw e;
    }
  };
}

/** Quoting helpers by name: each turns values into safe text for one output language. */
export const QUOTING_HELPERS: Readonly<Record<string, HelperDelegate>> = Object.freeze({
  sq: quoting('sq', shellQuote),
  ks: quoting('ks', kickstartWord),
  ksq: quoting('ksq', kickstartQuoted),
  kspkg: quoting('kspkg', kickstartPackage),
  py: quoting('py', pythonString),
  xl: quoting('xl', xlString),
  karg: quoting('karg', kernelWord),
  ipxe: quoting('ipxe', ipxeWord),
  grub: quoting('grub', grubWord),
  num: (value: unknown) => numberText(value),
});

/** Value helpers, usable only inside another helper's arguments: `(join list " ")`, `(eq a "b")`. */
export const VALUE_HELPERS: Readonly<Record<string, HelperDelegate>> = Object.freeze({
  join: (list: unknown, sep: unknown) => {
    if (!Array.isArray(list) || typeof sep !== 'string') throw new TemplateError('(join): expected a list and a separator string');
    return list.map((v) => joined('join', [v, {}])).join(sep);
  },
  eq: (a: unknown, b: unknown) => {
    if (a === undefined || b === undefined) throw new TemplateError('(eq): compares a missing value');
    return a === b;
  },
});

/** Block helpers templates may use; the strict wrappers below refuse a missing (undefined) argument. */
export const BLOCK_HELPERS = ['if', 'unless', 'each', 'with'] as const;

/** Returns a wrapper of a built-in block helper that throws when its argument is missing (null and false are fine). */
export function strictBlock(name: string, builtin: HelperDelegate): HelperDelegate {
  return function (this: unknown, ...args: unknown[]) {
    const options = args[args.length - 1] as { loc?: { start: { line: number } } };
    if (args.length !== 2 || args[0] === undefined) {
      const at = options?.loc ? ` (line ${options.loc.start.line})` : '';
      throw new TemplateError(`{{#${name}}}${at}: ${args.length !== 2 ? 'needs exactly one argument' : 'its argument is missing from the context'}`);
    }
    return (builtin as (...a: unknown[]) => unknown).apply(this, args);
  };
}
