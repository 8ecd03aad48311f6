// JSON views of stored records for the API: ISO times, derived state, no secrets beyond what an
// authenticated operator needs.
import type { Lifecycle } from '../boot/lifecycle.ts';
import { timeline } from '../boot/lifecycle.ts';
import type { InstallEvent, System } from '../store/types.ts';
import { maskSecrets } from '../profiles/registry.ts';

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

/** Returns the API view of a system; `urls` carries the token-bearing links while armed. */
export function systemView(s: System, lifecycle: Lifecycle, base: string) {
  const armed = s.build && s.token !== null;
  return {
    name: s.name,
    displayName: s.displayName,
    macs: s.macs,
    ip: s.ip,
    hostname: s.hostname,
    profile: s.profile,
    overrides: maskSecrets(s.overrides),
    build: s.build,
    state: lifecycle.displayState(s),
    stage: s.stage,
    run: s.run,
    createdAt: iso(s.createdAt),
    updatedAt: iso(s.updatedAt),
    stateChangedAt: iso(s.stateChangedAt),
    lastEventAt: iso(s.lastEventAt),
    urls: armed
      ? {
          kickstart: `${base}/ks/${s.token}`,
          install: `${base}/scripts/${s.token}/install.sh`,
          rescue: `${base}/scripts/${s.token}/rescue.sh`,
          rescueOneLiner: `wget -q -O /tmp/rescue.sh ${base}/scripts/${s.token}/rescue.sh && sh /tmp/rescue.sh`,
          tokenExpiresAt: iso(s.tokenExpiresAt),
        }
      : null,
  };
}

/** Returns the API view of a timeline: ISO times and milliseconds since the previous step. */
export function eventsView(events: InstallEvent[]) {
  return timeline(events).map((e) => ({
    id: e.id,
    run: e.run,
    time: iso(e.time),
    stage: e.stage,
    message: e.message,
    source: e.source,
    log: e.log,
    sincePreviousMs: e.sincePreviousMs,
  }));
}
