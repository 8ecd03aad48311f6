// The kernel's ARP table is one table for every network namespace, capped by the host's
// net.ipv4.neigh.default.gc_thresh3 (1024 by default). A storm of thousands of machines, each with
// its own address, overflows it ("neighbor table overflow!" in the kernel log), and the server's
// replies to machines past the first thousand or so are dropped before they leave: a limit of the
// lab, which an operator of a large provisioning LAN raises the same way (README). The keys exist
// only in the host's network namespace, so the orchestrator (bench/run.ts) raises them around the
// storm figure, which runs in a namespace of its own, and puts the old values back after it.
import { readFileSync, writeFileSync } from 'node:fs';

const KEYS = ['gc_thresh1', 'gc_thresh2', 'gc_thresh3'] as const;
const path = (k: string) => `/proc/sys/net/ipv4/neigh/default/${k}`;

/**
 * Makes room for `entries` neighbours (thresholds are never lowered); returns the function that puts
 * the old values back (idempotent: the orchestrator calls it after the figure and on SIGINT/SIGTERM).
 */
export function raiseNeighbourRoom(entries: number): () => void {
  const old = KEYS.map((k) => Number(readFileSync(path(k), 'utf8').trim()));
  const want = [old[0]!, Math.max(old[1]!, entries), Math.max(old[2]!, 2 * entries)];
  // thresh3 first when raising, so thresh2 ≤ thresh3 holds at every step.
  for (const i of [2, 1, 0]) if (want[i] !== old[i]) writeFileSync(path(KEYS[i]!), String(want[i]));
  let restored = false;
  return () => {
    if (restored) return;
    restored = true;
    for (const i of [0, 1, 2]) if (want[i] !== old[i]) writeFileSync(path(KEYS[i]!), String(old[i]));
  };
}

/** Returns the current thresholds, for a figure's notes. */
export function neighbourThresholds(): string {
  return KEYS.map((k) => `${k} ${readFileSync(path(k), 'utf8').trim()}`).join(', ');
}
