import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { z } from 'zod';
import { ROUTES } from '../../server/http/routes.ts';
import { openApiDocument, openApiPath, zodToJsonSchema, type JsonSchema } from '../../server/http/openapi.ts';
import { newSystemSchema } from '../../server/profiles/system-input.ts';
import { harness } from './harness.ts';
import { ADMIN, NG, dashboardHarness } from './dashboard-harness.ts';

const doc = openApiDocument() as {
  paths: Record<string, Record<string, { operationId: string; security: unknown[]; parameters?: Array<{ name: string; in: string }>; responses: Record<string, { content?: Record<string, { schema: JsonSchema }> }> }>>;
  components: { schemas: Record<string, JsonSchema> };
};

const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
const IGNORED = new Set(['description', 'default']);

/** Returns where value breaks schema (the JSON Schema subset the document uses); throws on keywords it does not know. */
function check(schema: JsonSchema, value: unknown, at = '$'): string[] {
  const errs: string[] = [];
  const fail = (m: string) => errs.push(`${at}: ${m}`);
  for (const k of Object.keys(schema)) {
    if (!IGNORED.has(k) && !['$ref', 'anyOf', 'const', 'enum', 'type', 'properties', 'required', 'additionalProperties', 'propertyNames', 'items', 'minItems', 'maxItems', 'pattern', 'minLength', 'maxLength', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'format'].includes(k)) {
      throw new Error(`${at}: the checker does not know the keyword ${k}`);
    }
  }
  if (typeof schema.$ref === 'string') {
    const name = schema.$ref.replace('#/components/schemas/', '');
    const target = doc.components.schemas[name];
    if (!target) return [`${at}: dangling $ref ${schema.$ref}`];
    return check(target, value, at);
  }
  if (Array.isArray(schema.anyOf)) {
    const branches = (schema.anyOf as JsonSchema[]).map((s) => check(s, value, at));
    if (!branches.some((b) => b.length === 0)) fail(`matches no anyOf branch (${branches.map((b) => b[0]).join(' | ')})`);
  }
  if ('const' in schema && JSON.stringify(schema.const) !== JSON.stringify(value)) fail(`expected ${JSON.stringify(schema.const)}`);
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) fail(`${JSON.stringify(value)} not in ${JSON.stringify(schema.enum)}`);
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    const actual = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
    const ok = types.some((t) => t === actual || (t === 'integer' && Number.isInteger(value)) || (t === 'number' && typeof value === 'number'));
    if (!ok) return [...errs, `${at}: expected ${types.join('|')}, got ${actual}`];
  }
  if (typeof value === 'string') {
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern).test(value)) fail(`${JSON.stringify(value)} does not match ${schema.pattern}`);
    if (typeof schema.minLength === 'number' && value.length < schema.minLength) fail('too short');
    if (typeof schema.maxLength === 'number' && value.length > schema.maxLength) fail('too long');
    if (schema.format === 'date-time' && !ISO_TIME.test(value)) fail(`${JSON.stringify(value)} is not a date-time`);
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) fail('below minimum');
    if (typeof schema.maximum === 'number' && value > schema.maximum) fail('above maximum');
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) fail('too few items');
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) fail('too many items');
    if (schema.items) value.forEach((v, i) => errs.push(...check(schema.items as JsonSchema, v, `${at}[${i}]`)));
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
    for (const k of (schema.required ?? []) as string[]) if (!(k in o)) fail(`missing ${k}`);
    for (const [k, v] of Object.entries(o)) {
      if (schema.propertyNames) errs.push(...check(schema.propertyNames as JsonSchema, k, `${at}.${k}(name)`));
      if (props[k]) errs.push(...check(props[k], v, `${at}.${k}`));
      else if (schema.additionalProperties === false) fail(`undocumented property ${k}`);
      else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') errs.push(...check(schema.additionalProperties as JsonSchema, v, `${at}.${k}`));
    }
  }
  return errs;
}

describe('OpenAPI document', () => {
  test('describes every express route of the route table, and only those', () => {
    const want = ROUTES.filter((r) => !r.lean).flatMap((r) => r.methods.map((m) => `${m.toLowerCase()} ${openApiPath(r.path)} ${r.name}`)).sort();
    const have = Object.entries(doc.paths).flatMap(([p, ops]) => Object.entries(ops).map(([m, op]) => `${m} ${p} ${op.operationId}`)).sort();
    assert.deepEqual(have, want);
  });

  test('declares every path parameter, asks for the bearer token exactly where the route table does, and documents 401 there', () => {
    for (const spec of ROUTES.filter((r) => !r.lean)) {
      for (const m of spec.methods) {
        const op = doc.paths[openApiPath(spec.path)]![m.toLowerCase()]!;
        const declared = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
        assert.deepEqual(declared, [...spec.path.matchAll(/:([A-Za-z]+)/g)].map((x) => x[1]), spec.name);
        assert.equal(op.security.length > 0, spec.auth, spec.name);
        assert.equal('401' in op.responses, spec.auth, spec.name);
      }
    }
  });

  test('every $ref resolves', () => {
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([A-Za-z]+)"/g)].map((m) => m[1]!);
    assert.ok(refs.length > 10);
    for (const r of refs) assert.ok(doc.components.schemas[r], r);
  });

  test('the request body schemas agree with the validation the API runs', () => {
    const schema = doc.components.schemas.NewSystem!;
    const good = [NG, { ...NG, ip: null, build: true, overrides: { xen: { vcpus: 4 } } }];
    const bad = [{ ...NG, colour: 'red' }, { ...NG, name: 'Bad Name' }, { ...NG, macs: [] }, { ...NG, hostname: '$(reboot)' }, { ...NG, build: 'yes' }, { macs: NG.macs, profile: NG.profile }];
    for (const b of good) {
      assert.deepEqual(check(schema, b), [], JSON.stringify(b));
      assert.ok(newSystemSchema.safeParse(b).success);
    }
    for (const b of bad) {
      assert.notDeepEqual(check(schema, b), [], JSON.stringify(b));
      assert.ok(!newSystemSchema.safeParse(b).success);
    }
  });

  test('zod optional, default and nullable map to required, default and null the way each side sees them', () => {
    const s = z.object({ a: z.string().optional(), b: z.number().int().default(3), c: z.string().nullable() }).strict();
    assert.deepEqual(zodToJsonSchema(s, 'input'), {
      type: 'object',
      properties: { a: { type: 'string' }, b: { type: 'integer', default: 3 }, c: { anyOf: [{ type: 'string' }, { type: 'null' }] } },
      required: ['c'],
      additionalProperties: false,
    });
    assert.deepEqual((zodToJsonSchema(s, 'output') as { required: string[] }).required, ['b', 'c']);
  });

  test('the checker catches drift: an extra field or a missing one in a system view fails', async () => {
    const h = dashboardHarness();
    const r = await request(h.app).post('/api/v1/systems').set('Authorization', `Bearer ${ADMIN}`).send(NG).expect(201);
    const system = doc.components.schemas.System!;
    assert.deepEqual(check(system, r.body), []);
    assert.match(check(system, { ...r.body, secret: 1 })[0]!, /undocumented property secret/);
    const { run: _run, ...missing } = r.body;
    assert.match(check(system, missing)[0]!, /missing run/);
    assert.match(check(system, { ...r.body, createdAt: 'yesterday' })[0]!, /not a date-time/);
    const p = await request(h.app).get('/api/v1/profiles/centos44-hvm').set('Authorization', `Bearer ${ADMIN}`).expect(200);
    assert.deepEqual(check(doc.components.schemas.Profile!, p.body), []);
    assert.match(check(doc.components.schemas.Profile!, { ...p.body, kind: 'profile' })[0]!, /undocumented property kind/);
    assert.match(check(doc.components.schemas.Profile!, { ...p.body, root_password_hash: '$1$salt$hash' })[0]!, /expected "\*{8}"/);
  });
});

interface Call {
  op: string;
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  path: string;
  status: number;
  body?: unknown;
  noAuth?: boolean;
  plain?: boolean;
  /** Runs just before the call (e.g. makes a fake BMC fail). */
  before?: () => void;
}

describe('real API responses match the document', () => {
  test('every documented status of every operation is produced, with the documented body', async () => {
    const h = dashboardHarness();
    const plain = harness();
    const auth = `Bearer ${ADMIN}`;
    // State the calls below need: an armed system with a failed run's log, and a discovered one.
    await request(h.app).post('/api/v1/systems').set('Authorization', auth).send({ ...NG, build: true, overrides: { xen: { vcpus: 4 } } }).expect(201);
    const armed = (await h.store.getSystem(NG.name))!;
    await request(h.app).post(`/events/${armed.token}/failed`).send('installer log').expect(200);
    await h.lifecycle.arm(NG.name, '10.0.0.1');
    await h.lifecycle.discovered('00:16:3e:aa:bb:cc', '10.0.0.9');
    await h.store.createSystem({ name: 'spare', macs: ['00:16:3e:00:00:42'], profile: 'el9-kvm', ip: '10.0.0.42' }, h.clock.now);

    const calls: Call[] = [
      { op: 'healthz', method: 'get', path: '/healthz', status: 200 },
      { op: 'listSystems', method: 'get', path: '/api/v1/systems', status: 200 },
      { op: 'listSystems', method: 'get', path: '/api/v1/systems?limit=1&state=build&q=ng', status: 200 },
      { op: 'listSystems', method: 'get', path: '/api/v1/systems?limit=0', status: 400 },
      { op: 'listSystems', method: 'get', path: '/api/v1/systems?state=asleep', status: 400 },
      { op: 'createSystem', method: 'post', path: '/api/v1/systems', status: 201, body: { name: 'fresh', macs: ['00:16:3e:00:00:50'], profile: 'el9-kvm', hostname: 'fresh' } },
      { op: 'createSystem', method: 'post', path: '/api/v1/systems', status: 400, body: { ...NG, name: 'x', macs: ['nope'] } },
      { op: 'createSystem', method: 'post', path: '/api/v1/systems', status: 409, body: NG },
      { op: 'createSystem', method: 'post', path: '/api/v1/systems', status: 413, body: { ...NG, overrides: { pad: 'x'.repeat(300 * 1024) } } },
      { op: 'getSystem', method: 'get', path: `/api/v1/systems/${NG.name}`, status: 200 },
      { op: 'getSystem', method: 'get', path: '/api/v1/systems/nope', status: 404 },
      { op: 'updateSystem', method: 'patch', path: '/api/v1/systems/spare', status: 200, body: { hostname: 'spare2', ip: null } },
      { op: 'updateSystem', method: 'patch', path: '/api/v1/systems/spare', status: 400, body: { profile: 7 } },
      { op: 'updateSystem', method: 'patch', path: '/api/v1/systems/nope', status: 404, body: { hostname: 'x' } },
      { op: 'updateSystem', method: 'patch', path: '/api/v1/systems/spare', status: 409, body: { macs: NG.macs } },
      { op: 'updateSystem', method: 'patch', path: '/api/v1/systems/spare', status: 413, body: { overrides: { pad: 'x'.repeat(300 * 1024) } } },
      { op: 'systemEvents', method: 'get', path: `/api/v1/systems/${NG.name}/events`, status: 200 },
      { op: 'systemEvents', method: 'get', path: `/api/v1/systems/${NG.name}/events?run=x`, status: 400 },
      { op: 'systemEvents', method: 'get', path: `/api/v1/systems/${NG.name}/events?limit=1`, status: 200 },
      { op: 'systemEvents', method: 'get', path: '/api/v1/systems/nope/events', status: 404 },
      { op: 'renderArtifact', method: 'get', path: `/api/v1/systems/${NG.name}/render/kickstart`, status: 200 },
      { op: 'renderArtifact', method: 'get', path: `/api/v1/systems/${NG.name}/render/bogus`, status: 400 },
      { op: 'renderArtifact', method: 'get', path: '/api/v1/systems/nope/render/xl', status: 404 },
      { op: 'renderArtifact', method: 'get', path: '/api/v1/systems/discovered-00163eaabbcc/render/xl', status: 409 },
      { op: 'rebuildSystem', method: 'post', path: '/api/v1/systems/spare/rebuild', status: 200 },
      { op: 'rebuildSystem', method: 'post', path: '/api/v1/systems/nope/rebuild', status: 404 },
      { op: 'rebuildSystem', method: 'post', path: '/api/v1/systems/discovered-00163eaabbcc/rebuild', status: 409 },
      { op: 'disarmSystem', method: 'post', path: '/api/v1/systems/spare/disarm', status: 200 },
      { op: 'disarmSystem', method: 'post', path: '/api/v1/systems/nope/disarm', status: 404 },
      { op: 'listProfiles', method: 'get', path: '/api/v1/profiles', status: 200 },
      { op: 'listProfiles', method: 'get', path: '/api/v1/profiles?limit=1', status: 200 },
      { op: 'listProfiles', method: 'get', path: '/api/v1/profiles?cursor=bogus', status: 400 },
      { op: 'getProfile', method: 'get', path: '/api/v1/profiles/centos44-hvm', status: 200 },
      { op: 'getProfile', method: 'get', path: '/api/v1/profiles/nope', status: 404 },
      { op: 'listDistros', method: 'get', path: '/api/v1/distros', status: 200 },
      { op: 'listDistros', method: 'get', path: '/api/v1/distros?limit=x', status: 400 },
      { op: 'openapi', method: 'get', path: '/api/v1/openapi.json', status: 200 },
      { op: 'metrics', method: 'get', path: '/metrics', status: 200 },
      { op: 'setPower', method: 'put', path: '/api/v1/systems/ngtest-hvm/power', status: 200, body: { driver: 'ipmi', address: '10.0.0.6' } },
      { op: 'powerAction', method: 'post', path: '/api/v1/systems/ngtest-hvm/power/off', status: 502, before: () => void (h.machines.machine('ngtest-hvm').fail = 'unable to establish IPMI v2 / RMCP+ session') },
      { op: 'rebuildSystem', method: 'post', path: '/api/v1/systems/ngtest-hvm/rebuild', status: 502, body: { reboot: true } },
      { op: 'metrics', method: 'get', path: '/metrics', status: 404, plain: true },
      { op: 'rebuildSystem', method: 'post', path: '/api/v1/systems/spare/rebuild', status: 400, body: { reboot: 'yes' } },
      { op: 'getPower', method: 'get', path: '/api/v1/systems/spare/power', status: 200 },
      { op: 'getPower', method: 'get', path: '/api/v1/systems/nope/power', status: 404 },
      { op: 'powerAction', method: 'post', path: '/api/v1/systems/spare/power/status', status: 409 },
      { op: 'setPower', method: 'put', path: '/api/v1/systems/spare/power', status: 200, body: { driver: 'ipmi', address: '10.0.0.5', user: 'admin', secret: 'pw' } },
      { op: 'setPower', method: 'put', path: '/api/v1/systems/spare/power', status: 400, body: { driver: 'ipmi', address: '-oProxyCommand=x' } },
      { op: 'setPower', method: 'put', path: '/api/v1/systems/nope/power', status: 404, body: { driver: 'ipmi' } },
      { op: 'powerAction', method: 'post', path: '/api/v1/systems/spare/power/cycle', status: 200 },
      { op: 'powerAction', method: 'post', path: '/api/v1/systems/spare/power/explode', status: 400 },
      { op: 'powerAction', method: 'post', path: '/api/v1/systems/nope/power/status', status: 404 },
      { op: 'rebuildSystem', method: 'post', path: '/api/v1/systems/spare/rebuild', status: 200, body: { reboot: true } },
      { op: 'rebuildMany', method: 'post', path: '/api/v1/rebuild', status: 200, body: { systems: ['spare', 'nope'], reboot: true } },
      { op: 'rebuildMany', method: 'post', path: '/api/v1/rebuild', status: 400, body: { systems: [] } },
      { op: 'rebuildMany', method: 'post', path: '/api/v1/rebuild', status: 413, body: { systems: ['x'.repeat(300 * 1024)] } },
      { op: 'setPower', method: 'put', path: '/api/v1/systems/spare/power', status: 413, body: { driver: 'ipmi', address: 'x'.repeat(300 * 1024) } },
      { op: 'rebuildSystem', method: 'post', path: '/api/v1/systems/spare/rebuild', status: 413, body: { reboot: true, pad: 'x'.repeat(300 * 1024) } },
      { op: 'deletePower', method: 'delete', path: '/api/v1/systems/spare/power', status: 204 },
      { op: 'deletePower', method: 'delete', path: '/api/v1/systems/spare/power', status: 404 },
      { op: 'deleteSystem', method: 'delete', path: '/api/v1/systems/spare', status: 204 },
      { op: 'deleteSystem', method: 'delete', path: '/api/v1/systems/spare', status: 404 },
    ];
    for (const spec of ROUTES.filter((r) => r.auth)) {
      const path = spec.path.replace(':name', NG.name).replace(':kind', 'kickstart');
      for (const m of spec.methods) calls.push({ op: spec.name, method: m.toLowerCase() as Call['method'], path, status: 401, noAuth: true, body: m === 'GET' ? undefined : {} });
    }

    const seen = new Set<string>();
    for (const c of calls) {
      const route = ROUTES.find((r) => r.name === c.op)!;
      const op = doc.paths[openApiPath(route.path)]![c.method]!;
      c.before?.();
      let req = request(c.plain ? plain.app : h.app)[c.method](c.path);
      if (!c.noAuth) req = req.set('Authorization', auth);
      const r = c.body === undefined ? await req : await req.send(c.body as object);
      const what = `${c.method.toUpperCase()} ${c.path}`;
      assert.equal(r.status, c.status, `${what}: ${r.text.slice(0, 300)}`);
      const documented = op.responses[String(r.status)];
      assert.ok(documented, `${what}: status ${r.status} is not documented for ${c.op}`);
      const [type, media] = Object.entries(documented.content ?? {})[0] ?? [];
      if (!type) assert.equal(r.text, '', `${what}: documented without a body`);
      else if (type === 'application/json') {
        assert.match(String(r.headers['content-type']), /^application\/json/, what);
        assert.deepEqual(check(media!.schema, r.body), [], `${what} body breaks the document`);
      } else assert.match(String(r.headers['content-type']), new RegExp(`^${type}`), what);
      seen.add(`${c.op} ${r.status}`);
    }
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const op of Object.values(ops)) {
        for (const status of Object.keys(op.responses).filter((s) => s !== 'default')) {
          assert.ok(seen.has(`${op.operationId} ${status}`), `${op.operationId} (${path}) ${status} is documented but never produced here`);
        }
      }
    }
  });
});
