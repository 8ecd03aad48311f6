// Pages of systems for operators (API lists, the dashboard, the CLI): filtered by the state an
// operator sees (`stalled` included) and by search text, in name order, with an opaque cursor.
// A page costs what its rows cost, not what the fleet costs, where the store can page itself.
import { BadRequestError } from '../errors.ts';
import { SYSTEM_STATES, type System, type SystemCounts, type SystemQuery, type SystemState } from '../store/types.ts';
import type { DisplayState, Lifecycle } from './lifecycle.ts';

/** Page size when none is asked for, and the largest one served. */
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;
/** Longest search text accepted. */
export const MAX_SEARCH_LENGTH = 128;

/** What a list request asks for, validated. */
export interface PageRequest {
  limit: number;
  /** The key the previous page ended at (decoded from the cursor). */
  after: string | null;
}

/** Filters of a list of systems. */
export interface SystemFilter {
  search?: string;
  state?: DisplayState;
}

/** Returns an opaque cursor that resumes after key. */
export function encodeCursor(key: string): string {
  return Buffer.from(JSON.stringify({ after: key }), 'utf8').toString('base64url');
}

/** Returns the limit and cursor of query parameters (strings or absent); 400 naming the parameter when bad. */
export function pageRequest(query: { limit?: unknown; cursor?: unknown }, defaultLimit = DEFAULT_PAGE_SIZE): PageRequest {
  let limit = defaultLimit;
  if (query.limit !== undefined) {
    limit = Number(query.limit);
    if (typeof query.limit !== 'string' || !/^\d+$/.test(query.limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
      throw new BadRequestError(`limit: expected an integer from 1 to ${MAX_PAGE_SIZE}`, 'limit');
    }
  }
  let after: string | null = null;
  if (query.cursor !== undefined && query.cursor !== '') {
    try {
      const parsed = JSON.parse(Buffer.from(String(query.cursor), 'base64url').toString('utf8')) as { after?: unknown };
      if (typeof parsed.after !== 'string') throw new Error('no key');
      after = parsed.after;
    } catch {
      throw new BadRequestError('cursor: not a cursor this server returned', 'cursor');
    }
  }
  return { limit, after };
}

/** Returns the search and state filters of query parameters; 400 naming the parameter when bad. */
export function systemFilter(query: { q?: unknown; state?: unknown }): SystemFilter {
  const out: SystemFilter = {};
  if (query.q !== undefined && query.q !== '') {
    if (typeof query.q !== 'string' || query.q.length > MAX_SEARCH_LENGTH) throw new BadRequestError(`q: expected text of at most ${MAX_SEARCH_LENGTH} characters`, 'q');
    out.search = query.q;
  }
  if (query.state !== undefined && query.state !== '') {
    const states: readonly string[] = [...SYSTEM_STATES, 'stalled'];
    if (typeof query.state !== 'string' || !states.includes(query.state)) throw new BadRequestError(`state: expected one of ${states.join(', ')}`, 'state');
    out.state = query.state as DisplayState;
  }
  return out;
}

/** Returns the items after the cursor, up to the limit, and the cursor of the next page (null on the last). */
export function pageOf<T>(items: readonly T[], key: (t: T) => string, page: PageRequest, compare: (a: string, b: string) => number = (a, b) => (a < b ? -1 : a > b ? 1 : 0)): { items: T[]; next: string | null } {
  const rest = page.after === null ? items : items.filter((t) => compare(key(t), page.after!) > 0);
  const items2 = rest.slice(0, page.limit);
  return { items: items2, next: rest.length > page.limit ? encodeCursor(key(items2[items2.length - 1]!)) : null };
}

/** Stored states that can show as the display state asked for. */
function storedStates(state: DisplayState | undefined): SystemState[] | undefined {
  if (state === undefined) return undefined;
  if (state === 'stalled') return ['installing', 'build'];
  return [state];
}

/** Returns one page of systems matching the filter, in name order, and the next page's cursor. */
export async function systemsPage(lifecycle: Lifecycle, filter: SystemFilter, page: PageRequest): Promise<{ systems: System[]; next: string | null }> {
  const store = lifecycle.store;
  const states = storedStates(filter.state);
  // Stored state alone cannot say stalled: read pages of the stored states and keep the ones shown so.
  const shown = (s: System) => filter.state === undefined || lifecycle.displayState(s) === filter.state;
  if (!store.listSystemsPage) {
    const all = (await store.listSystems()).filter((s) => (!states || states.includes(s.state)) && matches(s, filter.search) && shown(s));
    const p = pageOf(all, (s) => s.name, page);
    return { systems: p.items, next: p.next };
  }
  const out: System[] = [];
  let after = page.after ?? undefined;
  // One row more than asked says whether a next page exists.
  for (;;) {
    const query: SystemQuery = { after, limit: page.limit + 1, search: filter.search, states };
    const batch = await store.listSystemsPage(query);
    for (const s of batch) if (shown(s)) out.push(s);
    if (out.length > page.limit || batch.length < query.limit) break;
    after = batch[batch.length - 1]!.name;
  }
  const systems = out.slice(0, page.limit);
  return { systems, next: out.length > page.limit ? encodeCursor(systems[systems.length - 1]!.name) : null };
}

/** Returns whether a system matches search text the way the SQLite store's LIKE does (case-insensitive substring). */
function matches(s: System, search: string | undefined): boolean {
  if (!search) return true;
  const q = search.toLowerCase();
  return [s.name, s.hostname ?? '', s.ip ?? '', ...s.macs].some((v) => v.toLowerCase().includes(q));
}

/** Returns the store's counts by the state operators see: stalled apart from the state it is stored in (the /metrics gauge and the dashboard share it). */
export function displayedCounts(c: SystemCounts): Record<DisplayState, number> {
  return {
    ...c.byState,
    installing: c.byState.installing - c.stalledInstalling,
    build: c.byState.build - (c.stalled - c.stalledInstalling),
    stalled: c.stalled,
  };
}

/** Returns how many systems show in each state, zero counts left out (one aggregate store query). */
export async function stateCounts(lifecycle: Lifecycle): Promise<Map<DisplayState, number>> {
  const c = displayedCounts(await lifecycle.store.countSystems(lifecycle.now() - lifecycle.stallMs));
  return new Map((Object.entries(c) as Array<[DisplayState, number]>).filter(([, n]) => n > 0));
}
