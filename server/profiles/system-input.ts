// Validation of system bodies from the API and CLI: names, MACs, IP, hostname, profile, overrides.
import { z } from 'zod';
import { BadRequestError } from '../errors.ts';
import { isPlainMap } from '../merge.ts';
import { zodMessage } from './load.ts';
import { parseMac } from './mac.ts';
import { hostname, name } from './schema.ts';

const ipv4 = z.string().regex(/^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/, 'expected an IPv4 address');
const mac = z.string().transform((s, ctx) => {
  const m = parseMac(s);
  if (!m) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `invalid MAC address ${JSON.stringify(s)}` });
    return z.NEVER;
  }
  return m;
});
const overrides = z.record(z.unknown()).refine(isPlainMap, 'expected a map');

export const newSystemSchema = z
  .object({
    name,
    macs: z.array(mac).min(1, 'at least one MAC address is needed').max(16),
    ip: ipv4.nullable().optional(),
    hostname: hostname.nullable().optional(),
    profile: name,
    overrides: overrides.optional(),
    build: z.boolean().optional(),
  })
  .strict();

export const systemPatchSchema = z
  .object({
    macs: z.array(mac).min(1).max(16).optional(),
    ip: ipv4.nullable().optional(),
    hostname: hostname.nullable().optional(),
    profile: name.optional(),
    overrides: overrides.optional(),
  })
  .strict();

export type NewSystemInput = z.infer<typeof newSystemSchema>;
export type SystemPatchInput = z.infer<typeof systemPatchSchema>;

/** Returns the parsed body or throws BadRequestError naming the first bad field. */
export function parseBody<T>(schema: z.ZodTypeAny, body: unknown): T {
  if (!isPlainMap(body)) throw new BadRequestError('request body must be a JSON object', '(body)');
  const r = schema.safeParse(body);
  if (!r.success) {
    const { key, message } = zodMessage(r.error);
    throw new BadRequestError(`${key}: ${message}`, key);
  }
  const data = r.data as { macs?: string[] };
  if (data.macs && new Set(data.macs).size !== data.macs.length) throw new BadRequestError('macs: the same MAC address is listed twice', 'macs');
  return r.data as T;
}
