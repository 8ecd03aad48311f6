// The one shape the e2e test needs from whatever serves the guest: the stand-in (dnsmasq + a tiny
// HTTP server) today, kickstand itself once it serves DHCP, TFTP and HTTP.
import type { PartitionLayout } from '../../server/geometry/layout.ts';

/** The install profile of the e2e guest: small CHS disks, labels, serial console, with the geometry module's figures. */
export interface E2eProfile {
  hdaMib: number;
  hdbMib: number;
  /** Whole CHS cylinders of hda. */
  hdaCylinders: number;
  /** Partition 1 of hda and of hdb, as kickstand's geometry module lays them out. */
  root: PartitionLayout;
  swap: PartitionLayout;
  rootLabel: string;
  swapLabel: string;
  kernelArgs: string;
}

/** One install event as the server recorded it. */
export interface RecordedEvent {
  stage: string;
  query: string;
  time: string;
}

/** A running server the guest boots from. */
export interface ServerUnderTest {
  kind: 'standin' | 'kickstand';
  /** Arms an install for the lab's guest: its next network boot installs (kickstand: `system rebuild`). */
  armInstall(): Promise<void>;
  /** Returns the path of a boot ISO (isolinux, installer kernel and initrd, the armed install's URL) for the CD route. */
  bootIso(): Promise<string>;
  /** Returns the install events recorded for the guest so far, oldest first. */
  events(): Promise<RecordedEvent[]>;
  /** Log files to keep as artifacts on failure (name in the artifact folder -> path). */
  logFiles(): Record<string, string>;
  /** Stops every process the server runs (by PID). Safe to call twice. */
  stop(): Promise<void>;
}
