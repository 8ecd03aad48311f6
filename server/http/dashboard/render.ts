// The dashboard's own handlebars instance (never the artifact renderer's): HTML escaping on, strict
// lookups so a missing field is an error, and a load-time rule that no view uses the unescaped
// forms `{{{ }}}` or `{{& }}`. Views are files in views/; names starting with `_` are partials.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Handlebars from 'handlebars';
import { TemplateError } from '../../errors.ts';
import { dashboardDir } from './files.ts';

/** Folder of the dashboard's views. */
export const VIEWS_DIR = dashboardDir('views');

/** Compiled dashboard pages. */
export class Views {
  private readonly pages = new Map<string, Handlebars.TemplateDelegate>();

  constructor(dir = VIEWS_DIR) {
    const hb = Handlebars.create();
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.hbs')).sort()) {
      const src = readFileSync(join(dir, file), 'utf8');
      if (/\{\{\{|\{\{~?\s*&/.test(src)) throw new TemplateError(`dashboard view ${file}: unescaped output ({{{ }}} or {{& }}) is not allowed`);
      const name = file.slice(0, -'.hbs'.length);
      let tpl: Handlebars.TemplateDelegate;
      try {
        hb.parse(src); // compile() is lazy: parse now so a syntax error stops start-up
        tpl = hb.compile(src, { strict: true, noEscape: false, preventIndent: true });
      } catch (err) {
        throw new TemplateError(`dashboard view ${file}: ${(err as Error).message}`, { cause: err });
      }
      if (name.startsWith('_')) hb.registerPartial(name.slice(1), tpl);
      else this.pages.set(name, tpl);
    }
  }

  /** Returns the HTML of a page; throws TemplateError on an unknown page or a missing field. */
  render(page: string, data: object): string {
    const tpl = this.pages.get(page);
    if (!tpl) throw new TemplateError(`no dashboard view named ${JSON.stringify(page)}`);
    try {
      return tpl(data);
    } catch (err) {
      throw new TemplateError(`dashboard view ${page}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Returns the names of the pages (not partials). */
  names(): string[] {
    return [...this.pages.keys()];
  }
}
