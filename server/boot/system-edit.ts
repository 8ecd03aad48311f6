// Changing a system from the CLI (`system set`), the API (PATCH) and the dashboard: one set of
// rules. Giving a discovered machine a profile registers it (its discovery event stays in its
// history); a new name carries its MACs, tokens and events along.
import { z } from 'zod';
import { BadRequestError, ConflictError, NotFoundError } from '../errors.ts';
import type { ProfileRegistry } from '../profiles/registry.ts';
import { parseBody, systemPatchSchema, type SystemPatchInput } from '../profiles/system-input.ts';
import { name as nameSchema } from '../profiles/schema.ts';
import type { System } from '../store/types.ts';
import type { Lifecycle } from './lifecycle.ts';

/** The fields a change may carry: those of PATCH /api/v1/systems/NAME and a new name. */
export const systemEditSchema = systemPatchSchema.extend({ name: nameSchema.optional() }).strict();
export type SystemEditInput = z.infer<typeof systemEditSchema>;

/** Checks a profile name and overrides resolve; 400 naming the field when not. */
export function checkProfileOverrides(registry: ProfileRegistry, profile: string, overrides: Record<string, unknown>): void {
  if (!registry.profile(profile)) throw new BadRequestError(`profile: no profile named ${JSON.stringify(profile)}`, 'profile');
  try {
    registry.resolve(profile, overrides, 'overrides');
  } catch (err) {
    const e = err as Error & { field?: string };
    throw new BadRequestError(e.message, e.field ? `overrides.${e.field}` : 'overrides');
  }
}

/**
 * Applies a change (validated here) to the system called name; returns it after. A discovered
 * system given a profile becomes registered. The rename happens first and is undone when the
 * rest of the change is refused, so a refused change leaves the system as it was.
 */
export async function editSystem(lifecycle: Lifecycle, registry: ProfileRegistry, name: string, input: unknown): Promise<System> {
  const store = lifecycle.store;
  const body = parseBody<SystemEditInput>(systemEditSchema, input);
  const cur = await store.getSystem(name);
  if (!cur) throw new NotFoundError(`no system named ${JSON.stringify(name)}`);
  const profile = body.profile ?? cur.profile;
  if (profile) checkProfileOverrides(registry, profile, body.overrides ?? cur.overrides);
  const { name: newName, ...rest } = body;
  const patch: SystemPatchInput & { state?: 'registered' } = { ...rest, ...(cur.state === 'discovered' && body.profile ? { state: 'registered' as const } : {}) };
  let at = name;
  if (newName !== undefined && newName !== name) {
    if (!store.renameSystem) throw new ConflictError('this store cannot rename systems', 'name');
    if (cur.build || cur.state === 'installing') throw new ConflictError(`system ${JSON.stringify(name)} is armed or installing; disarm it before renaming (its boot menu carries the name)`, 'name');
    await store.renameSystem(name, newName, lifecycle.now());
    at = newName;
  }
  if (Object.keys(patch).length === 0) return (await store.getSystem(at))!;
  try {
    return await store.updateSystem(at, patch, lifecycle.now());
  } catch (err) {
    if (at !== name) await store.renameSystem!(at, name, lifecycle.now());
    throw err;
  }
}
