// View models: every string a page shows is computed here, so views only place fields (and the
// strict handlebars instance can prove none is missing).
import type { DisplayState, Lifecycle } from '../../boot/lifecycle.ts';
import { timeline } from '../../boot/lifecycle.ts';
import type { ArtifactKind } from '../../boot/artifacts.ts';
import type { InstallEvent, System } from '../../store/types.ts';

/** A state badge: text and the CSS class that colours it. */
export interface Badge {
  label: string;
  cls: string;
}

/** Artifacts previewed on a system's page, in order. */
export const PREVIEWS: ReadonlyArray<{ kind: ArtifactKind; title: string; hint: string }> = [
  { kind: 'kickstart', title: 'Kickstart', hint: 'served at /ks/<token> while armed' },
  { kind: 'rescue', title: 'Rescue script', hint: 'run from rescue mode: partitions, formats, installs GRUB' },
  { kind: 'install', title: 'Install script', hint: 'script installer' },
  { kind: 'prepare', title: 'Host prepare script', hint: 'run on the Xen host: disk images' },
  { kind: 'xen', title: 'Xen config (xm)', hint: '/etc/xen/<name>' },
  { kind: 'xl', title: 'xl config', hint: 'for xl create' },
  { kind: 'libvirt', title: 'libvirt domain', hint: 'for virsh define' },
  { kind: 'pxelinux', title: 'PXELINUX boot menu', hint: 'pxelinux.cfg/01-<mac>' },
  { kind: 'ipxe', title: 'iPXE boot script', hint: '/ipxe/<mac>' },
];

/** Failure logs longer than this show their tail only. */
export const LOG_TAIL_BYTES = 64 * 1024;

/** Returns the badge of a displayed state; installing and stalled name the current step. */
export function badgeFor(state: DisplayState, stage: string | null): Badge {
  switch (state) {
    case 'build':
      return { label: 'armed', cls: 'armed' };
    case 'installing':
      return { label: stage ? `installing: ${stage}` : 'installing', cls: 'installing' };
    case 'stalled':
      return { label: stage ? `stalled at ${stage}` : 'stalled', cls: 'stalled' };
    default:
      return { label: state, cls: state };
  }
}

/** Returns a duration as people read it: 850 ms, 42 s, 3m 05s, 2h 07m; '' for null. */
export function formatDuration(ms: number | null): string {
  if (ms === null) return '';
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/** Returns an epoch-ms time as `YYYY-MM-DD HH:MM:SS` UTC; '' for null. */
export function formatTime(t: number | null): string {
  return t === null ? '' : new Date(t).toISOString().replace('T', ' ').slice(0, 19);
}

/** Returns how long ago t was (`3m 05s ago`), or how far ahead (`in 5 s`); '' for null. */
export function ago(now: number, t: number | null): string {
  if (t === null) return '';
  if (Math.abs(now - t) < 1000) return 'just now';
  return t <= now ? `${formatDuration(now - t)} ago` : `in ${formatDuration(t - now)}`;
}

/** Returns the row shown for a system in the list. */
export function systemRow(s: System, lifecycle: Lifecycle) {
  const state = lifecycle.displayState(s);
  const now = lifecycle.now();
  return {
    name: s.name,
    href: `/ui/systems/${encodeURIComponent(s.name)}`,
    hostname: s.hostname ?? '',
    profile: s.profile ?? '',
    macs: s.macs.join(' '),
    ip: s.ip ?? '',
    badge: badgeFor(state, s.stage),
    lastEvent: ago(now, s.lastEventAt ?? s.stateChangedAt),
    canRebuild: s.profile !== null,
    rebuildLabel: s.state === 'registered' && s.run === 0 ? 'Install' : 'Rebuild',
    canDisarm: s.build || s.state === 'installing',
  };
}

/** Returns the timeline rows of one run: time, step, time since the previous step. */
export function timelineRows(events: InstallEvent[]) {
  return timeline(events).map((e) => ({
    id: e.id,
    run: e.run,
    timeMs: e.time,
    time: formatTime(e.time),
    stage: e.stage,
    stageCls: /^[a-z-]+$/.test(e.stage) ? e.stage : 'other',
    after: e.sincePreviousMs === null ? '' : `+${formatDuration(e.sincePreviousMs)}`,
    message: e.message ?? '',
    source: e.source ?? '',
  }));
}

/** Returns the failure logs of a run's events, each cut to its last LOG_TAIL_BYTES. */
export function failureLogs(events: InstallEvent[]) {
  return events
    .filter((e) => e.stage === 'failed' && (e.log || e.message))
    .map((e) => {
      const log = e.log ?? '';
      const size = Buffer.byteLength(log);
      const tail = size > LOG_TAIL_BYTES ? Buffer.from(log).subarray(size - LOG_TAIL_BYTES).toString('utf8') : log;
      return { time: formatTime(e.time), message: e.message ?? '', logText: tail, hasLog: log.length > 0, truncated: size > LOG_TAIL_BYTES, size: `${Math.ceil(size / 1024)} KiB` };
    });
}

/** Returns what a live update carries for one recorded event (the browser places it with textContent). */
export function livePayload(system: System, event: InstallEvent, lifecycle: Lifecycle) {
  return {
    system: system.name,
    run: system.run,
    badge: badgeFor(lifecycle.displayState(system), system.stage),
    canRebuild: system.profile !== null,
    canDisarm: system.build || system.state === 'installing',
    event: {
      id: event.id,
      run: event.run,
      timeMs: event.time,
      time: formatTime(event.time),
      stage: event.stage,
      message: event.message ?? '',
      source: event.source ?? '',
      hasLog: event.log !== null,
    },
  };
}
