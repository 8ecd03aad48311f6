// `kickstand system import FILE`: many systems from a CSV or YAML file, all or nothing. Every row
// is checked first (fields as `system add` checks them, profiles resolved, names, MACs and IPs
// unique in the file and free in the store); any error is reported with its line and field and
// nothing is written. Then the rows are created; a failure part-way removes what was created.
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import { BadRequestError, KickstandError } from '../errors.ts';
import { newSystemSchema, parseBody, type NewSystemInput } from '../profiles/system-input.ts';
import type { CliContext } from './context.ts';

/** Rows in one file at most (a bound, not a target). */
export const MAX_IMPORT_ROWS = 100_000;
/** Errors listed before the rest are only counted. */
export const MAX_REPORTED_ERRORS = 20;

/** One row to import: its line in the file and the body it gives. */
export interface ImportRow {
  line: number;
  body: Record<string, unknown>;
}

/** Thrown with every problem found; nothing was written. */
export class ImportError extends KickstandError {
  constructor(readonly problems: string[]) {
    const shown = problems.slice(0, MAX_REPORTED_ERRORS);
    const more = problems.length > shown.length ? `\n… and ${problems.length - shown.length} more` : '';
    super('bad_request', `nothing imported, ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${shown.join('\n')}${more}`);
  }
}

/** Splits CSV text into records of fields (RFC 4180 quoting), each with the line it starts on. */
export function parseCsv(text: string): Array<{ line: number; fields: string[] }> {
  const out: Array<{ line: number; fields: string[] }> = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  let any = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else {
        if (c === '\n') line++;
        field += c;
      }
      continue;
    }
    if (c === '"' && field === '') {
      quoted = true;
      any = true;
    } else if (c === ',') {
      fields.push(field);
      field = '';
      any = true;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      fields.push(field);
      if (any || field !== '') out.push({ line: start, fields });
      fields = [];
      field = '';
      any = false;
      line++;
      start = line;
    } else {
      field += c;
      any = true;
    }
  }
  if (quoted) throw new BadRequestError(`line ${start}: a quoted field is not closed`);
  fields.push(field);
  if (any || field !== '') out.push({ line: start, fields });
  return out;
}

const CSV_COLUMNS = ['name', 'macs', 'profile', 'ip', 'hostname', 'overrides', 'build'] as const;

/** Returns the rows of a CSV file: a header naming the columns (mac or macs: MACs separated by spaces or `;`). */
export function csvRows(text: string): ImportRow[] {
  const records = parseCsv(text);
  if (records.length === 0) return [];
  const header = records[0]!.fields.map((h) => h.trim().toLowerCase()).map((h) => (h === 'mac' ? 'macs' : h));
  header.forEach((h) => {
    if (!(CSV_COLUMNS as readonly string[]).includes(h)) throw new ImportError([`line ${records[0]!.line}: column ${JSON.stringify(h)}: unknown (columns: ${CSV_COLUMNS.join(', ')})`]);
  });
  const problems: string[] = [];
  const rows: ImportRow[] = [];
  for (const r of records.slice(1)) {
    if (r.fields.length !== header.length) {
      problems.push(`line ${r.line}: expected ${header.length} fields, found ${r.fields.length}`);
      continue;
    }
    const body: Record<string, unknown> = {};
    header.forEach((h, i) => {
      const v = r.fields[i]!.trim();
      if (v === '') return;
      if (h === 'macs') body.macs = v.split(/[\s;]+/).filter(Boolean);
      else if (h === 'build') body.build = /^(1|true|yes)$/i.test(v) ? true : /^(0|false|no)$/i.test(v) ? false : v;
      else if (h === 'overrides') {
        try {
          body.overrides = JSON.parse(v);
        } catch {
          body.overrides = v;
        }
      } else body[h] = v;
    });
    rows.push({ line: r.line, body });
  }
  if (problems.length > 0) throw new ImportError(problems);
  return rows;
}

/** Returns the rows of a YAML file: a list of maps with the fields of `POST /api/v1/systems` (or a map with a `systems` list). */
export function yamlRows(text: string): ImportRow[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new ImportError([`line ${lines.linePos(e.pos[0]).line}: malformed YAML: ${e.message.split('\n')[0]}`]);
  }
  let list = doc.contents;
  if (isMap(list)) list = list.get('systems', true) as unknown as typeof list;
  if (!isSeq(list)) throw new ImportError(['line 1: expected a list of systems (or a map with a `systems` list)']);
  return list.items.map((item) => ({
    line: item && typeof item === 'object' && 'range' in item && item.range ? lines.linePos(item.range[0]).line : 0,
    body: (item && typeof item === 'object' && 'toJSON' in item ? (item as { toJSON(): unknown }).toJSON() : item) as Record<string, unknown>,
  }));
}

/** Returns the rows of a file by its extension (.csv, .yaml, .yml). */
export function importRows(file: string, text: string): ImportRow[] {
  const ext = extname(file).toLowerCase();
  if (ext === '.csv') return csvRows(text);
  if (ext === '.yaml' || ext === '.yml') return yamlRows(text);
  throw new BadRequestError(`${file}: expected a .csv, .yaml or .yml file`);
}

/** Checks every row and creates them all, or none; returns the systems created. */
export async function importSystems(ctx: CliContext, file: string): Promise<Array<NewSystemInput & { line: number }>> {
  if (!['.csv', '.yaml', '.yml'].includes(extname(file).toLowerCase())) throw new BadRequestError(`${file}: expected a .csv, .yaml or .yml file`);
  const rows = importRows(file, readFileSync(file, 'utf8'));
  if (rows.length > MAX_IMPORT_ROWS) throw new ImportError([`${rows.length} rows: at most ${MAX_IMPORT_ROWS} per file`]);
  const problems: string[] = [];
  const valid: Array<NewSystemInput & { line: number }> = [];
  const seen = { name: new Map<string, number>(), mac: new Map<string, number>(), ip: new Map<string, number>() };
  const dup = (kind: keyof typeof seen, value: string, line: number, field: string) => {
    const first = seen[kind].get(value);
    if (first !== undefined) problems.push(`line ${line}: ${field}: ${JSON.stringify(value)} is also on line ${first}`);
    else seen[kind].set(value, line);
  };
  for (const { line, body } of rows) {
    let s: NewSystemInput;
    try {
      s = parseBody<NewSystemInput>(newSystemSchema, body);
      if (!ctx.registry.profile(s.profile)) throw new BadRequestError(`profile: no profile named ${JSON.stringify(s.profile)}`, 'profile');
      try {
        ctx.registry.resolve(s.profile, s.overrides ?? {}, 'overrides');
      } catch (err) {
        throw new BadRequestError((err as Error).message, 'overrides');
      }
    } catch (err) {
      problems.push(`line ${line}: ${(err as Error).message.replace(/^request body must be a JSON object$/, 'expected a map of fields')}`);
      continue;
    }
    dup('name', s.name, line, 'name');
    for (const m of s.macs) dup('mac', m, line, 'macs');
    if (s.ip) dup('ip', s.ip, line, 'ip');
    valid.push({ ...s, line });
  }
  // Clashes with what is stored: names, MACs and IPs already taken.
  for (const s of valid) {
    if (await ctx.store.getSystem(s.name)) problems.push(`line ${s.line}: name: a system named ${JSON.stringify(s.name)} exists`);
    for (const owner of await ctx.store.findSystemsByMacs(s.macs)) problems.push(`line ${s.line}: macs: ${owner.macs.filter((m) => s.macs.includes(m)).join(', ')} belongs to system ${JSON.stringify(owner.name)}`);
    if (s.ip) {
      const owner = await ctx.store.findSystemByIp(s.ip);
      if (owner) problems.push(`line ${s.line}: ip: ${s.ip} belongs to system ${JSON.stringify(owner.name)}`);
    }
  }
  if (problems.length > 0) throw new ImportError(problems);
  const created: string[] = [];
  try {
    for (const s of valid) {
      const { line: _line, build, ...input } = s;
      await ctx.store.createSystem({ ...input, build: false }, ctx.lifecycle.now());
      created.push(s.name);
      if (build) await ctx.lifecycle.arm(s.name, null, 'armed at import');
    }
  } catch (err) {
    for (const name of created) await ctx.store.deleteSystem(name);
    throw new ImportError([`line ${valid[created.length]?.line ?? '?'}: ${(err as Error).message} (nothing imported: the ${created.length} created before it were removed)`]);
  }
  return valid;
}
