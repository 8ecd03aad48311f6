// The OpenAPI 3.1 description of the express routes (/healthz, /metrics, /api/v1), generated from
// the route table, the zod schemas the API validates with (request bodies, profiles, distros) and
// the response schemas below. Tests check every real response against it, so it cannot drift.
import type { ZodTypeAny } from 'zod';
import { distroFileSchema, profileBodySchema } from '../profiles/schema.ts';
import { newSystemSchema } from '../profiles/system-input.ts';
import { systemEditSchema } from '../boot/system-edit.ts';
import { ARTIFACT_KINDS } from '../boot/artifacts.ts';
import { ROUTES, type RouteSpec } from './routes.ts';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_SEARCH_LENGTH } from '../boot/fleet.ts';
import { powerSettingsSchema } from '../power/settings.ts';
import { bulkRebuildSchema } from './power-routes.ts';

/** A JSON Schema (2020-12, the subset OpenAPI 3.1 uses here). */
export type JsonSchema = { [k: string]: unknown };

/** Returns the JSON Schema of a zod schema: `input` is what a client may send, `output` what parsing yields. */
export function zodToJsonSchema(schema: ZodTypeAny, mode: 'input' | 'output'): JsonSchema {
  const def = schema._def as Record<string, unknown> & { typeName: string };
  const inner = (k: string) => zodToJsonSchema(def[k] as ZodTypeAny, mode);
  switch (def.typeName) {
    case 'ZodString': {
      const out: JsonSchema = { type: 'string' };
      for (const c of def.checks as Array<{ kind: string; regex?: RegExp; value?: number }>) {
        if (c.kind === 'regex') out.pattern = c.regex!.source;
        else if (c.kind === 'min') out.minLength = c.value;
        else if (c.kind === 'max') out.maxLength = c.value;
        else if (c.kind === 'url') out.format = 'uri';
      }
      return out;
    }
    case 'ZodNumber': {
      const out: JsonSchema = { type: 'number' };
      for (const c of def.checks as Array<{ kind: string; value?: number; inclusive?: boolean }>) {
        if (c.kind === 'int') out.type = 'integer';
        else if (c.kind === 'min') out[c.inclusive ? 'minimum' : 'exclusiveMinimum'] = c.value;
        else if (c.kind === 'max') out[c.inclusive ? 'maximum' : 'exclusiveMaximum'] = c.value;
      }
      return out;
    }
    case 'ZodBoolean':
      return { type: 'boolean' };
    case 'ZodLiteral':
      return { const: def.value };
    case 'ZodEnum':
      return { type: 'string', enum: [...(def.values as string[])] };
    case 'ZodUnknown':
    case 'ZodAny':
      return {};
    case 'ZodArray': {
      const out: JsonSchema = { type: 'array', items: inner('type') };
      const min = def.minLength as { value: number } | null;
      const max = def.maxLength as { value: number } | null;
      if (min) out.minItems = min.value;
      if (max) out.maxItems = max.value;
      return out;
    }
    case 'ZodRecord':
      return { type: 'object', propertyNames: inner('keyType'), additionalProperties: inner('valueType') };
    case 'ZodObject': {
      const shape = (def.shape as () => Record<string, ZodTypeAny>)();
      const properties: Record<string, JsonSchema> = {};
      const required: string[] = [];
      for (const [k, v] of Object.entries(shape)) {
        properties[k] = zodToJsonSchema(v, mode);
        const t = (v._def as { typeName: string }).typeName;
        if (t !== 'ZodOptional' && !(t === 'ZodDefault' && mode === 'input')) required.push(k);
      }
      return { type: 'object', properties, required, additionalProperties: def.unknownKeys !== 'strict' };
    }
    case 'ZodOptional':
      return inner('innerType');
    case 'ZodNullable':
      return { anyOf: [inner('innerType'), { type: 'null' }] };
    case 'ZodDefault':
      return mode === 'input' ? { ...inner('innerType'), default: (def.defaultValue as () => unknown)() } : inner('innerType');
    case 'ZodEffects':
      return inner('schema');
    default:
      throw new Error(`openapi: no JSON Schema for zod type ${def.typeName}`);
  }
}

const str = { type: 'string' };
const strOrNull = { type: ['string', 'null'] };
const time = { type: 'string', format: 'date-time' };
const timeOrNull = { type: ['string', 'null'], format: 'date-time' };
const int = { type: 'integer' };
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const obj = (properties: Record<string, unknown>, required = Object.keys(properties)): JsonSchema => ({ type: 'object', properties, required, additionalProperties: false });
const STATES = ['registered', 'build', 'installing', 'stalled', 'built', 'failed', 'discovered'];
/** The cursor of the next page of a list; null on the last page. */
const NEXT = { type: ['string', 'null'], description: 'Pass as ?cursor= for the next page; null on the last page' };

/** Returns the component schemas: request bodies and profiles from zod, views written out here. */
function componentSchemas(): Record<string, JsonSchema> {
  const profile = zodToJsonSchema(profileBodySchema, 'output');
  const distro = zodToJsonSchema(distroFileSchema, 'output');
  return {
    Error: obj({ error: obj({ code: str, message: str, field: str }, ['code', 'message']) }),
    System: obj({
      name: str,
      displayName: strOrNull,
      macs: { type: 'array', items: str },
      ip: strOrNull,
      hostname: strOrNull,
      profile: strOrNull,
      overrides: { type: 'object' },
      build: { type: 'boolean' },
      state: { type: 'string', enum: STATES },
      stage: strOrNull,
      run: int,
      createdAt: time,
      updatedAt: time,
      stateChangedAt: time,
      lastEventAt: timeOrNull,
      urls: { anyOf: [obj({ kickstart: str, install: str, rescue: str, rescueOneLiner: str, tokenExpiresAt: timeOrNull }), { type: 'null' }] },
    }),
    Event: obj({ id: int, run: int, time, stage: str, message: strOrNull, source: strOrNull, log: strOrNull, sincePreviousMs: { type: ['integer', 'null'] } }),
    Profile: {
      ...profile,
      properties: { ...(profile.properties as object), root_password_hash: { const: '********', description: 'masked' }, name: str, parents: { type: 'array', items: str } },
      required: [...(profile.required as string[]), 'name', 'parents'],
    },
    Distro: { ...distro, properties: { ...(distro.properties as object), source: { type: 'string', enum: ['yaml', 'iso'] } }, required: [...(distro.required as string[]), 'source'] },
    NewSystem: zodToJsonSchema(newSystemSchema, 'input'),
    PowerSettings: zodToJsonSchema(powerSettingsSchema, 'input'),
    BulkRebuild: zodToJsonSchema(bulkRebuildSchema, 'input'),
    PowerStatus: obj({ state: { type: 'string', enum: ['on', 'off', 'unknown'] }, checkedAt: { type: ['integer', 'null'] }, error: strOrNull }),
    Power: obj({
      system: str,
      settings: obj({ driver: strOrNull, address: strOrNull, user: strOrNull, secretSet: { type: 'boolean' }, port: { type: ['integer', 'null'] }, domain: strOrNull, uefi: { type: ['boolean', 'null'] }, boot: strOrNull, config_dir: strOrNull }),
      effective: obj({ driver: strOrNull, address: strOrNull, user: strOrNull, secretSet: { type: 'boolean' }, port: { type: ['integer', 'null'] }, domain: strOrNull, uefi: { type: 'boolean' }, boot: str, config_dir: str }),
      status: ref('PowerStatus'),
    }),
    SystemPatch: zodToJsonSchema(systemEditSchema, 'input'),
  };
}

/** One documented response: a JSON body, a text body, or none. */
interface Resp {
  description: string;
  json?: JsonSchema;
  text?: string;
}
const err = (description: string): Resp => ({ description, json: ref('Error') });
const E400 = err('A value cannot be used; `field` names it');
const E404 = err('No such system or profile');
const E409 = err('Clashes with existing state (duplicate name or MAC, no profile)');
const E413 = err('Body over 256 KiB (checked after the bearer token)');
const oneSystem: Resp = { description: 'The system', json: ref('System') };

/** Responses of every express route, by route name and status. */
export const RESPONSES: Record<string, Record<string, Resp>> = {
  healthz: { '200': { description: 'Alive', json: obj({ ok: { type: 'boolean' } }) } },
  listSystems: { '200': { description: 'One page of systems, by name', json: obj({ systems: { type: 'array', items: ref('System') }, next_cursor: NEXT }) }, '400': E400 },
  createSystem: { '201': { description: 'Registered (and armed when build was true)', json: ref('System') }, '400': E400, '409': E409, '413': E413 },
  getSystem: { '200': oneSystem, '404': E404 },
  updateSystem: { '200': oneSystem, '400': E400, '404': E404, '409': E409, '413': E413 },
  deleteSystem: { '204': { description: 'Removed' }, '404': E404 },
  rebuildSystem: {
    '200': { description: 'Armed, with a fresh token (and power-cycled when reboot was asked)', json: ref('System') },
    '400': E400,
    '404': E404,
    '409': E409,
    '413': E413,
    '502': err('Armed, but the power-cycle failed (the install stays armed; a power-failed event says why)'),
  },
  disarmSystem: { '200': { description: 'Build mode off', json: ref('System') }, '404': E404 },
  systemEvents: {
    '200': { description: 'Timeline (one page, by event id)', json: obj({ system: str, run: int, state: { type: 'string', enum: STATES }, events: { type: 'array', items: ref('Event') }, next_cursor: NEXT }) },
    '400': E400,
    '404': E404,
  },
  renderArtifact: { '200': { description: 'The rendered artifact', text: 'text/plain' }, '400': E400, '404': E404, '409': E409 },
  getPower: { '200': { description: 'Power settings (no secret), merged settings and last state', json: ref('Power') }, '404': E404 },
  setPower: { '200': { description: 'Saved', json: ref('Power') }, '400': E400, '404': E404, '413': E413 },
  deletePower: { '204': { description: 'Removed' }, '404': err('No such system, or it has no power settings of its own') },
  powerAction: {
    '200': { description: 'Done; the state after', json: obj({ system: str, action: str, state: { type: 'string', enum: ['on', 'off'] }, status: ref('PowerStatus') }) },
    '400': E400,
    '404': E404,
    '409': err('The system has no power driver'),
    '502': err('The BMC or hypervisor failed or could not be reached; the message carries what it said'),
  },
  rebuildMany: {
    '200': { description: 'One result per system, in the order given', json: obj({ results: { type: 'array', items: obj({ system: str, ok: { type: 'boolean' }, run: { type: ['integer', 'null'] }, error: { anyOf: [obj({ code: str, message: str }), { type: 'null' }] } }) } }) },
    '400': E400,
    '413': E413,
  },
  listProfiles: { '200': { description: 'Assignable profiles, resolved, secrets masked (one page, by name)', json: obj({ profiles: { type: 'array', items: ref('Profile') }, next_cursor: NEXT }) }, '400': E400 },
  getProfile: { '200': { description: 'One profile', json: ref('Profile') }, '404': E404 },
  listDistros: { '200': { description: 'Distros (one page, by name), and ISO files found but not usable', json: obj({ distros: { type: 'array', items: ref('Distro') }, isos: { type: 'array' }, next_cursor: NEXT }) }, '400': E400 },
  openapi: { '200': { description: 'This document', json: obj({ openapi: { const: '3.1.0' }, info: { type: 'object' }, paths: { type: 'object' }, components: { type: 'object' } }) } },
  metrics: { '200': { description: 'Prometheus text exposition', text: 'text/plain' }, '404': err('Metrics are not enabled, or served on their own listener (metrics.port)') },
};

const PAGE = (size: number) => [
  { name: 'limit', schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: size }, description: `Items per page (default ${size}, at most ${MAX_PAGE_SIZE})` },
  { name: 'cursor', schema: str, description: 'next_cursor of the previous page; absent for the first page' },
];
const QUERY: Record<string, Array<{ name: string; schema: JsonSchema; description: string }>> = {
  listSystems: [
    ...PAGE(DEFAULT_PAGE_SIZE),
    { name: 'q', schema: { type: 'string', maxLength: MAX_SEARCH_LENGTH }, description: 'Case-insensitive text in the name, hostname, IP or a MAC' },
    { name: 'state', schema: { type: 'string', enum: STATES }, description: 'Only systems shown in this state (stalled included)' },
  ],
  systemEvents: [{ name: 'run', schema: int, description: 'Install run (default: every run)' }, ...PAGE(MAX_PAGE_SIZE)],
  listProfiles: PAGE(DEFAULT_PAGE_SIZE),
  listDistros: PAGE(DEFAULT_PAGE_SIZE),
};
const BODIES: Record<string, string> = { createSystem: 'NewSystem', updateSystem: 'SystemPatch', setPower: 'PowerSettings', rebuildMany: 'BulkRebuild' };
const PARAMS: Record<string, JsonSchema> = { kind: { type: 'string', enum: [...ARTIFACT_KINDS] }, action: { type: 'string', enum: ['status', 'on', 'off', 'cycle'] } };

/** Returns the OpenAPI path of a route-table path (`:name` → `{name}`). */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z]+)/g, '{$1}');
}

/** Returns the operation object of one route and method. */
function operation(spec: RouteSpec): JsonSchema {
  const table = RESPONSES[spec.name];
  if (!table) throw new Error(`openapi: route ${spec.name} has no documented responses`);
  const responses: Record<string, unknown> = {};
  const all = spec.auth ? { ...table, '401': err('Missing or wrong admin bearer token') } : table;
  for (const [status, r] of Object.entries(all)) {
    responses[status] = { description: r.description, ...(r.json ? { content: { 'application/json': { schema: r.json } } } : r.text ? { content: { [r.text]: { schema: str } } } : {}) };
  }
  responses.default = { description: 'Unexpected failure', content: { 'application/json': { schema: ref('Error') } } };
  const params = [...spec.path.matchAll(/:([A-Za-z]+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: PARAMS[m[1]!] ?? str }));
  const query = (QUERY[spec.name] ?? []).map((q) => ({ name: q.name, in: 'query', required: false, schema: q.schema, description: q.description }));
  const body = BODIES[spec.name];
  return {
    operationId: spec.name,
    summary: spec.summary,
    security: spec.auth ? [{ admin: [] }] : [],
    ...(params.length + query.length > 0 ? { parameters: [...params, ...query] } : {}),
    ...(body ? { requestBody: { required: true, content: { 'application/json': { schema: ref(body) } } } } : {}),
    responses,
  };
}

let cached: JsonSchema | null = null;

/** Returns the OpenAPI 3.1 document of every express route (built once). */
export function openApiDocument(): JsonSchema {
  if (cached) return cached;
  const paths: Record<string, Record<string, unknown>> = {};
  for (const spec of ROUTES.filter((r) => !r.lean)) {
    const item = (paths[openApiPath(spec.path)] ??= {});
    for (const m of spec.methods) item[m.toLowerCase()] = operation(spec);
  }
  cached = {
    openapi: '3.1.0',
    info: { title: 'kickstand API', version: '1', description: 'Systems, install runs, profiles and distros of a kickstand network install server.' },
    paths,
    components: { schemas: componentSchemas(), securitySchemes: { admin: { type: 'http', scheme: 'bearer', description: 'The admin token (data dir file admin-token, or auth.admin_token)' } } },
  };
  return cached;
}
