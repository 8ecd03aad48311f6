// The dashboard's pages: each builds its view model from the lifecycle, store, registry and
// artifacts, and renders one view. Nothing here changes state.
import type { Logger } from '../../log.ts';
import { KickstandError } from '../../errors.ts';
import type { Artifacts } from '../../boot/artifacts.ts';
import type { Lifecycle } from '../../boot/lifecycle.ts';
import { maskSecrets, type ProfileRegistry } from '../../profiles/registry.ts';
import type { System } from '../../store/types.ts';
import { systemView } from '../views.ts';
import { pageRequest, stateCounts, systemFilter, systemsPage as fleetPage } from '../../boot/fleet.ts';
import { ago, badgeFor, failureLogs, formatTime, PREVIEWS, systemRow, timelineRows } from './model.ts';
import type { Views } from './render.ts';
import type { Session } from './session.ts';
import type { PowerControl } from '../../boot/power-control.ts';

/** What every page needs. */
export interface PageContext {
  lifecycle: Lifecycle;
  registry: ProfileRegistry;
  artifacts: Artifacts;
  views: Views;
  log: Logger;
  isoStatus?: () => unknown[];
  /** Power control: the power column, the power fact and the rebuild-and-reboot button. */
  power?: PowerControl;
}

const NAV = [
  { key: 'systems', href: '/ui/', label: 'Systems' },
  { key: 'register', href: '/ui/register', label: 'Register' },
  { key: 'distros', href: '/ui/distros', label: 'Distros' },
  { key: 'leases', href: '/ui/leases', label: 'Leases' },
];

/** Returns the fields the layout needs: title, navigation (with the logout form's CSRF token), live-update target. */
export function frame(title: string, active: string, session: Session | null, live: { kind: string; system: string; run: number } = { kind: '', system: '', run: 0 }) {
  return {
    title,
    nav: session ? { csrf: session.csrf, items: NAV.map((n) => ({ href: n.href, label: n.label, current: n.key === active })) } : null,
    live,
  };
}

/** States offered by the systems page's filter, in the order operators think of them. */
const FILTER_STATES = ['discovered', 'registered', 'build', 'installing', 'stalled', 'built', 'failed'] as const;

/**
 * Returns the systems list page: one page of the systems matching the search text and state in
 * the query (the rest a "next page" link away), and the count of every state, fleet-wide.
 */
export async function systemsPage(c: PageContext, session: Session, query: Record<string, unknown> = {}): Promise<string> {
  const filter = systemFilter(query);
  const page = await fleetPage(c.lifecycle, filter, pageRequest(query));
  const controlled = new Set((await c.power?.controlled())?.map((s) => s.name));
  const systems = page.systems.map((s) => ({ ...systemRow(s, c.lifecycle), power: controlled.has(s.name) ? c.power!.status(s.name).state : '' }));
  const summary = [...(await stateCounts(c.lifecycle))].map(([cls, n]) => ({ cls, label: `${n} ${cls}`, href: `/ui/?state=${cls}` }));
  const keep = (extra: Record<string, string>) => `/ui/?${new URLSearchParams({ ...(filter.search ? { q: filter.search } : {}), ...(filter.state ? { state: filter.state } : {}), ...extra })}`;
  return c.views.render('systems', {
    ...frame('Systems', 'systems', session, { kind: 'list', system: '', run: 0 }),
    csrf: session.csrf,
    systems,
    summary,
    q: filter.search ?? '',
    states: FILTER_STATES.map((st) => ({ value: st, selected: st === filter.state })),
    filtered: filter.search !== undefined || filter.state !== undefined,
    next: page.next ? keep({ cursor: page.next }) : '',
    first: query.cursor ? keep({}) : '',
  });
}

/** Returns one system's page: facts, actions, timeline of a run, failure logs, artifacts. */
export async function systemPage(c: PageContext, session: Session, s: System, base: string, runParam: number | null, adoptError?: string): Promise<string> {
  const { lifecycle } = c;
  const state = lifecycle.displayState(s);
  const all = await lifecycle.store.listEvents(s.name);
  const runs = [...new Set(all.map((e) => e.run))].sort((a, b) => b - a);
  const run = runParam ?? (runs.includes(s.run) || runs.length === 0 ? s.run : runs[0]!);
  const events = all.filter((e) => e.run === run);
  const view = systemView(s, lifecycle, base);
  const now = lifecycle.now();
  const facts = [
    { label: 'Profile', value: s.profile ?? 'none (discovered)' },
    { label: 'MACs', value: s.macs.join(' ') },
    { label: 'IP', value: s.ip ?? 'from the pool' },
    { label: 'Hostname', value: s.hostname ?? '' },
    { label: 'Install run', value: String(s.run) },
    { label: 'State since', value: `${formatTime(s.stateChangedAt)} (${ago(now, s.stateChangedAt)})` },
    { label: 'Last event', value: s.lastEventAt === null ? 'none' : `${formatTime(s.lastEventAt)} (${ago(now, s.lastEventAt)})` },
    ...(view.urls ? [{ label: 'Token expires', value: `${formatTime(s.tokenExpiresAt)} (${ago(now, s.tokenExpiresAt)})` }] : []),
    ...(Object.keys(s.overrides).length > 0 ? [{ label: 'Overrides', value: JSON.stringify(maskSecrets(s.overrides)) }] : []),
  ];
  const power = c.power ? await c.power.view(s.name).catch(() => null) : null;
  const canReboot = Boolean(power?.effective.driver) && s.profile !== null;
  if (power?.effective.driver) {
    const st = power.status;
    const seen = st.checkedAt === null ? 'not checked yet' : `${st.state}, ${ago(now, st.checkedAt)}${st.error ? `: ${st.error}` : ''}`;
    facts.push({ label: 'Power', value: `${power.effective.driver} ${power.effective.address ?? 'local'}: ${seen}` });
  }
  const artifacts = PREVIEWS.map((p) => {
    let text = '';
    let error = '';
    try {
      text = c.artifacts.render(p.kind, s, base);
    } catch (err) {
      if (err instanceof KickstandError) error = err.message;
      else {
        c.log.error({ err, system: s.name, kind: p.kind }, 'dashboard preview failed');
        error = 'rendering failed; see the server log';
      }
    }
    return { ...p, text, error, id: `art-${p.kind}` };
  });
  const row = systemRow(s, lifecycle);
  return c.views.render('system', {
    ...frame(s.name, 'systems', session, { kind: 'system', system: s.name, run }),
    csrf: session.csrf,
    system: { name: s.name, href: row.href, badge: badgeFor(state, s.stage), canRebuild: row.canRebuild, rebuildLabel: row.rebuildLabel, canDisarm: row.canDisarm, canReboot },
    facts,
    rescueOneLiner: view.urls?.rescueOneLiner ?? '',
    run,
    current: run === s.run,
    runs: runs.map((r) => ({ run: r, href: `${row.href}?run=${r}`, current: r === run })),
    events: timelineRows(events),
    failures: failureLogs(events),
    artifacts,
    adopt: s.state === 'discovered' ? { name: s.name, hostname: s.hostname ?? '', profiles: c.registry.profiles().map((p) => ({ name: p.name, description: p.description ?? '' })), error: adoptError ?? '' } : null,
    power: power ? powerForm(power.settings, row.href) : null,
  });
}

/** Returns the power card's form values: the system's own settings (never the secret), drivers and actions. */
function powerForm(own: { driver: string | null; address: string | null; user: string | null; secretSet: boolean; port: number | null; domain: string | null; uefi: boolean | null; boot: string | null; config_dir: string | null }, href: string) {
  return {
    action: `${href}/power`,
    drivers: ['', 'ipmi', 'libvirt', 'xen'].map((d) => ({ value: d, label: d || 'from the profile', selected: (own.driver ?? '') === d })),
    boots: ['', 'network', 'cd'].map((b) => ({ value: b, label: b || 'from the profile (network)', selected: (own.boot ?? '') === b })),
    address: own.address ?? '',
    user: own.user ?? '',
    port: own.port === null ? '' : String(own.port),
    domain: own.domain ?? '',
    configDir: own.config_dir ?? '',
    uefi: own.uefi === true,
    secretSet: own.secretSet,
    actions: ['status', 'on', 'off', 'cycle'].map((a) => ({ name: a, href: `${href}/power/${a}`, label: a === 'status' ? 'Check power' : a === 'cycle' ? 'Power-cycle' : `Power ${a}` })),
  };
}

/** Values the register form shows again after an error. */
export interface RegisterValues {
  name: string;
  macs: string;
  ip: string;
  hostname: string;
  profile: string;
  overrides: string;
  build: boolean;
}

/** Returns the register form, with an error and the values sent when a submission was refused. */
export function registerPage(c: PageContext, session: Session, values: RegisterValues, error: { message: string; field: string } | null): string {
  const profiles = c.registry.profiles().map((p) => ({ name: p.name, description: p.description ?? '', selected: p.name === values.profile }));
  return c.views.render('register', { ...frame('Register a system', 'register', session), csrf: session.csrf, values, profiles, error });
}

/** Returns the distros, profiles and unusable ISOs page. */
export function distrosPage(c: PageContext, session: Session): string {
  const distros = c.registry.distros().map((d) => ({ name: d.name, family: d.family, arch: d.arch, source: d.source === 'iso' ? 'ISO scan' : 'YAML', where: d.iso ?? d.url ?? '', installer: d.installer }));
  const profiles = c.registry.profiles().map((p) => ({ name: p.name, distro: p.distro, description: p.description ?? '', parents: p.parents.join(' → ') }));
  const skipped = (c.isoStatus?.() ?? []).map((x) => {
    const o = (x && typeof x === 'object' ? x : {}) as Record<string, unknown>;
    return typeof o.iso === 'string' ? { iso: o.iso, reason: String(o.reason ?? '') } : { iso: '', reason: JSON.stringify(x) };
  });
  return c.views.render('distros', { ...frame('Distros & ISOs', 'distros', session), distros, profiles, skipped });
}

/** Returns the DHCP leases page, each lease with the system that owns its MAC. */
export async function leasesPage(c: PageContext, session: Session): Promise<string> {
  const store = c.lifecycle.store;
  const now = c.lifecycle.now();
  const owners = new Map<string, string>();
  for (const s of await store.listSystems()) for (const m of s.macs) owners.set(m, s.name);
  const leases = (await store.loadLeases())
    .sort((a, b) => a.ip.localeCompare(b.ip, 'en', { numeric: true }))
    .map((l) => {
      const owner = owners.get(l.mac) ?? '';
      return { mac: l.mac, ip: l.ip, hostname: l.hostname ?? '', state: l.state, expired: l.expiresAt <= now, expires: ago(now, l.expiresAt), system: owner, href: owner ? `/ui/systems/${encodeURIComponent(owner)}` : '' };
    });
  return c.views.render('leases', { ...frame('DHCP leases', 'leases', session), leases });
}

/** Returns the login page. */
export function loginPage(c: PageContext, csrf: string, next: string, error: string): string {
  return c.views.render('login', { ...frame('Log in', '', null), csrf, next, error });
}

/** Returns an error page. */
export function errorPage(c: PageContext, session: Session | null, status: number, message: string): string {
  return c.views.render('error', { ...frame(`Error ${status}`, '', session), status, message, loggedIn: session !== null });
}
