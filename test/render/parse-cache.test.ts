// Parsed templates kept between starts: every artifact renders the same from the cache file as
// from a fresh parse; a changed template is parsed again (and the cache follows it); a broken
// cache file is ignored; a cached tree still goes through the template checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Handlebars from 'handlebars';
import { loadRenderer } from '../../server/render/renderer.ts';
import { ParseCache } from '../../server/parse-cache.ts';
import { TemplateError } from '../../server/errors.ts';
import { artifactsFor } from '../../server/render/artifacts.ts';
import { silentLogger } from '../../server/log.ts';
import { goldenCases, TEMPLATES } from './fixtures.ts';

test('artifacts render the same from cached trees as from a fresh parse, and a changed template is parsed again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-parse-cache-'));
  try {
    const templatesDir = join(dir, 'templates');
    cpSync(TEMPLATES, templatesDir, { recursive: true });
    const cacheFile = join(dir, 'cache', 'templates.json');
    const fresh = await loadRenderer({ templatesDir, log: silentLogger() });
    const writer = await loadRenderer({ templatesDir, log: silentLogger(), parseCacheFile: cacheFile });
    const cached = await loadRenderer({ templatesDir, log: silentLogger(), parseCacheFile: cacheFile });
    const cases = goldenCases();
    assert.ok(cases.length > 5);
    let rendered = 0;
    for (const c of cases) {
      for (const kind of artifactsFor(c.ctx)) {
        const want = fresh.render(kind, c.ctx);
        assert.equal(writer.render(kind, c.ctx), want, `${kind} ${c.id}`);
        assert.equal(cached.render(kind, c.ctx), want, `${kind} ${c.id} from the cache file`);
        rendered++;
      }
    }
    assert.ok(rendered > 20, `${rendered} artifacts compared`);
    const entries = () => Object.keys(JSON.parse(readFileSync(cacheFile, 'utf8')) as object).length;
    const before = entries();
    const entry = join(templatesDir, 'pxe/boot.ipxe.hbs');
    writeFileSync(entry, `${readFileSync(entry, 'utf8')}# changed\n`);
    const changed = await loadRenderer({ templatesDir, log: silentLogger(), parseCacheFile: cacheFile });
    assert.match(changed.renderGlobal('boot-ipxe', { urls: { base: 'http://x' } }), /# changed/);
    assert.equal(entries(), before, 'the stale tree is dropped, the new one kept');

    writeFileSync(cacheFile, '{ not json');
    const recovered = await loadRenderer({ templatesDir, log: silentLogger(), parseCacheFile: cacheFile });
    assert.match(recovered.renderGlobal('boot-ipxe', { urls: { base: 'http://x' } }), /# changed/);
    assert.equal(entries(), before, 'a broken cache file is replaced');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a cached tree still goes through the template checks', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-parse-cache-'));
  try {
    const templatesDir = join(dir, 'templates');
    cpSync(TEMPLATES, templatesDir, { recursive: true });
    const cacheFile = join(dir, 'templates.json');
    // Plant a tree for the real entry template that uses a helper the checks refuse.
    const source = readFileSync(join(templatesDir, 'pxe/boot.ipxe.hbs'), 'utf8');
    const planted = new ParseCache<unknown>(cacheFile, `handlebars ${Handlebars.VERSION}`);
    planted.get(source, () => Handlebars.parse('{{no_such_helper urls.base}}'));
    assert.equal(planted.save(), null);
    await assert.rejects(loadRenderer({ templatesDir, log: silentLogger(), parseCacheFile: cacheFile }), (e: unknown) => e instanceof TemplateError && /boot\.ipxe\.hbs/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
