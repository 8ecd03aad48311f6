// The power routes of the API: a system's power settings (secret write-only), power actions,
// rebuild-with-reboot and bulk rebuilds. They call boot/power-control.ts, as the CLI and the
// dashboard do; a driver failure is a 502 naming the BMC or hypervisor and what it said.
import type { Request, Response } from 'express';
import { z } from 'zod';
import { BadRequestError, NotFoundError } from '../errors.ts';
import type { Lifecycle } from '../boot/lifecycle.ts';
import type { PowerControl } from '../boot/power-control.ts';
import { plainIp } from '../boot/match.ts';
import { parseBody, systemSlug } from '../profiles/system-input.ts';
import { name } from '../profiles/schema.ts';
import { POWER_ACTIONS, type PowerAction } from '../power/types.ts';

/** Most systems one bulk rebuild may name. */
export const MAX_BULK_SYSTEMS = 500;

/** Body of POST /api/v1/systems/:name/rebuild (optional). */
export const rebuildBodySchema = z.object({ reboot: z.boolean().optional() }).strict();

/** Body of POST /api/v1/rebuild. */
export const bulkRebuildSchema = z
  .object({
    systems: z.array(name).min(1).max(MAX_BULK_SYSTEMS),
    reboot: z.boolean().optional(),
    concurrency: z.number().int().min(1).max(64).optional(),
  })
  .strict();

type Handler = (req: Request, res: Response) => Promise<void>;

/** Returns whether a rebuild request asks for a reboot (an empty body does not); 400 on anything else. */
export function wantsReboot(body: unknown): boolean {
  if (body === undefined || (body && typeof body === 'object' && Object.keys(body).length === 0)) return false;
  return parseBody<z.infer<typeof rebuildBodySchema>>(rebuildBodySchema, body).reboot === true;
}

/** Returns the power route handlers by route name; without power control they answer 404. */
export function powerHandlers(o: { power?: PowerControl; lifecycle: Lifecycle }): Record<string, Handler> {
  const need = (): PowerControl => {
    if (!o.power) throw new NotFoundError('power control is not enabled in this kickstand');
    return o.power;
  };
  const param = (req: Request, k: string) => String(req.params[k] ?? '');
  const source = (req: Request) => plainIp(req.socket.remoteAddress);
  return {
    async getPower(req, res) {
      res.json(await need().view(systemSlug(param(req, 'name'))));
    },
    async setPower(req, res) {
      const p = need();
      await p.setSettings(systemSlug(param(req, 'name')), req.body);
      res.json(await p.view(systemSlug(param(req, 'name'))));
    },
    async deletePower(req, res) {
      const p = need();
      const n = systemSlug(param(req, 'name'));
      if (!(await p.clearSettings(n))) throw new NotFoundError(`system ${JSON.stringify(n)} has no power settings of its own`);
      res.status(204).end();
    },
    async powerAction(req, res) {
      const action = param(req, 'action');
      if (!(POWER_ACTIONS as readonly string[]).includes(action)) throw new BadRequestError(`action: expected one of ${POWER_ACTIONS.join(', ')}`, 'action');
      const p = need();
      const n = systemSlug(param(req, 'name'));
      const state = await p.act(n, action as PowerAction, source(req));
      res.json({ system: n, action, state, status: p.status(n) });
    },
    async rebuildMany(req, res) {
      const body = parseBody<z.infer<typeof bulkRebuildSchema>>(bulkRebuildSchema, req.body);
      if (new Set(body.systems).size !== body.systems.length) throw new BadRequestError('systems: a system is named twice', 'systems');
      const results = await need().rebuildMany(body.systems, { reboot: body.reboot === true, source: source(req), reason: 'bulk rebuild requested', concurrency: body.concurrency });
      res.json({ results });
    },
  };
}
