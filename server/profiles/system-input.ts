// Validation of system bodies from the API and CLI: names, MACs, IP, hostname, profile, overrides.
import { z } from 'zod';
import { BadRequestError } from '../errors.ts';
import { isPlainMap } from '../merge.ts';
import { zodMessage } from './load.ts';
import { parseMac } from './mac.ts';
import { DISPLAY_NAME_RE, hostname, name } from './schema.ts';

const ipv4 = z.string().regex(/^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/, 'expected an IPv4 address');
/** Returns why a canonical MAC cannot be a NIC's own address (multicast, broadcast, all zeros), or null. */
export function unicastProblem(mac: string): string | null {
  if (mac === 'ff:ff:ff:ff:ff:ff') return 'is the broadcast address';
  if (mac === '00:00:00:00:00:00') return 'is all zeros';
  if (parseInt(mac.slice(0, 2), 16) & 1) return 'is a multicast address (the low bit of its first byte is set)';
  return null;
}

const mac = z.string().transform((s, ctx) => {
  const m = parseMac(s);
  const problem = m ? unicastProblem(m) : null;
  if (!m || problem) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: m ? `MAC address ${JSON.stringify(s)} ${problem}; a NIC has a unicast address` : `invalid MAC address ${JSON.stringify(s)}` });
    return z.NEVER;
  }
  return m;
});

const displayName = z.string().regex(DISPLAY_NAME_RE, 'expected a name of letters, digits, ".", "_" or "-" (at most 63, starting with a letter or digit)');

/** Returns the name a system is stored under for a name given by a user: a display name finds its slug. */
export function systemSlug(given: string): string {
  return given.toLowerCase();
}

/**
 * Returns the system's slug and display name: a lowercase name is both; a mixed-case name such as
 * the notes' `NGTest-hvm` is kept as the display name (Xen domain name, listings) and its lowercase
 * slug names the system everywhere else (URLs, image files, the store). Two names that differ only
 * in case share a slug, so the store refuses the second.
 */
export function nameAndSlug(given: string): { name: string; displayName: string | null } {
  const slug = systemSlug(given);
  return { name: slug, displayName: slug === given ? null : given };
}
const overrides = z.record(z.unknown()).refine(isPlainMap, 'expected a map');

export const newSystemSchema = z
  .object({
    name: displayName,
    macs: z.array(mac).min(1, 'at least one MAC address is needed').max(16),
    ip: ipv4.nullable().optional(),
    hostname: hostname.nullable().optional(),
    profile: name,
    overrides: overrides.optional(),
    build: z.boolean().optional(),
  })
  .strict()
  .transform((body) => ({ ...body, ...nameAndSlug(body.name) }));

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
