// Reads the guest's disk images from the host after a boot, without loop devices: the partition
// table (`sfdisk -d`), the ext3 superblock at the partition offset (`dumpe2fs -h 'img?offset=N'`),
// the swap signature (`blkid -p -O N`), files inside the file system (`debugfs`), and the MBR.
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';

/** One partition as `sfdisk -d` prints it. */
export interface DumpedPartition {
  device: string;
  start: number;
  size: number;
  type: string;
  bootable: boolean;
}

/** Returns the partitions of a disk image from `sfdisk -d`, plus the raw dump. */
export function sfdiskDump(image: string): { text: string; partitions: DumpedPartition[] } {
  const r = spawnSync('sfdisk', ['-d', image], { encoding: 'utf8' });
  if (r.status !== 0) return { text: r.stderr, partitions: [] };
  const partitions: DumpedPartition[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^(\S+)\s*:\s*(.*)$/.exec(line);
    if (!m || !m[2].includes('start=')) continue;
    const field = (k: string): string => new RegExp(`${k}=\\s*([^,\\s]+)`).exec(m[2])?.[1] ?? '';
    partitions.push({
      device: m[1],
      start: Number(field('start')),
      size: Number(field('size')),
      type: field('type'),
      bootable: /\bbootable\b/.test(m[2]),
    });
  }
  return { text: r.stdout, partitions };
}

/** Returns the superblock fields `dumpe2fs -h` prints for the file system at a byte offset of the image. */
export function dumpe2fs(image: string, offset: number): Record<string, string> {
  const out = execFileSync('dumpe2fs', ['-h', `${image}?offset=${offset}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const fields: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const m = /^([A-Za-z][^:]*):\s+(.*)$/.exec(line);
    if (m) fields[m[1].trim()] = m[2].trim();
  }
  return fields;
}

/** Returns what low-level probing finds at a byte offset of the image (TYPE, LABEL, UUID…). */
export function blkidProbe(image: string, offset: number): Record<string, string> {
  const r = spawnSync('blkid', ['-p', '-O', String(offset), '-o', 'export', image], { encoding: 'utf8' });
  const fields: Record<string, string> = {};
  for (const line of r.stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) fields[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return fields;
}

/** Returns the output of a debugfs request (e.g. `cat /etc/fstab`) against the file system at an offset. */
export function debugfs(image: string, offset: number, request: string): string {
  return execFileSync('debugfs', ['-R', request, `${image}?offset=${offset}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

/** Returns a file's text from the file system at an offset, following symlinks (debugfs `cat` does not). */
export function catFollowing(image: string, offset: number, path: string, hops = 4): string {
  const stat = debugfs(image, offset, `stat ${path}`);
  const link = /Fast link dest: "([^"]*)"/.exec(stat);
  if (!link || hops === 0) return debugfs(image, offset, `cat ${path}`);
  const target = link[1].startsWith('/') ? link[1] : `${path.slice(0, path.lastIndexOf('/') + 1)}${link[1]}`;
  return catFollowing(image, offset, target, hops - 1);
}

/** Returns the first sector of the image. */
export function readMbr(image: string): Buffer {
  const buf = Buffer.alloc(512);
  const fd = openSync(image, 'r');
  try {
    readSync(fd, buf, 0, 512, 0);
  } finally {
    closeSync(fd);
  }
  return buf;
}

/** Returns true when the MBR holds GRUB legacy's stage1 (its boot code names "GRUB") and the 55AA signature. */
export function mbrHasGrub(image: string): boolean {
  const mbr = readMbr(image);
  return mbr.subarray(0, 446).includes('GRUB') && mbr[510] === 0x55 && mbr[511] === 0xaa;
}

/** Zeroes the boot code of the MBR (bytes 0..445), leaving the partition table: a guest that will not boot. */
export function wipeBootCode(image: string): void {
  const fd = openSync(image, 'r+');
  try {
    writeSync(fd, Buffer.alloc(446), 0, 446, 0);
  } finally {
    closeSync(fd);
  }
}

/** Returns a file from the FAT file system at a byte offset of the image (mtools, no mount), or null when it is not there. */
export function fatFile(image: string, offset: number, path: string): Buffer | null {
  const r = spawnSync('mcopy', ['-n', '-i', `${image}@@${offset}`, `::${path}`, '-'], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' }, maxBuffer: 64 << 20 });
  return r.status === 0 ? r.stdout : null;
}

/** Returns the names in a folder of the FAT file system at a byte offset of the image. */
export function fatList(image: string, offset: number, dir: string): string[] {
  const r = spawnSync('mdir', ['-b', '-i', `${image}@@${offset}`, `::${dir}`], { encoding: 'utf8', env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
  return r.status === 0 ? r.stdout.split('\n').filter(Boolean).map((l) => l.replace(/^.*\//, '')) : [];
}

/** Returns the TFTP read requests in a capture, in order, as `client filename` (tcpdump decodes TFTP on port 69). */
export function tftpReadRequests(pcap: string): string[] {
  const r = spawnSync('tcpdump', ['-n', '-r', pcap, 'udp dst port 69'], { encoding: 'utf8' });
  return r.stdout.split('\n').flatMap((l) => {
    const m = /^\S+ IP (\d+\.\d+\.\d+\.\d+)\.\d+ > .*RRQ "([^"]*)"/.exec(l);
    return m ? [`${m[1]} ${m[2]}`] : [];
  });
}

/** Returns how many packets of a capture match a tcpdump filter. */
export function countPackets(pcap: string, filter: string): number {
  const r = spawnSync('tcpdump', ['-n', '-r', pcap, filter], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean).length;
}

/** Returns the HTTP request lines (`GET /path`) sent to a port in a capture, in order. */
export function httpRequests(pcap: string, port: number): string[] {
  const r = spawnSync('tcpdump', ['-n', '-A', '-r', pcap, `tcp dst port ${port}`], { encoding: 'latin1', maxBuffer: 256 << 20 });
  return [...r.stdout.matchAll(/\b(GET|HEAD|POST) (\/\S*) HTTP\/1\.[01]/g)].map((m) => `${m[1]} ${m[2]}`);
}
