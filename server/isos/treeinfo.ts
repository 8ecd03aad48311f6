// The two small text files that name an install tree: .discinfo (anaconda's disc stamp, CentOS/RHEL
// 4–5 and later) and .treeinfo (an INI file: the pre-productmd [general] layout of EL5–7 and the
// productmd [release]/[tree] layout of EL8 and later, both with [images-<arch>] sections).

/** What .discinfo says: line 1 timestamp, 2 release name, 3 arch, 4 disc numbers. */
export interface DiscInfo {
  readonly timestamp: string;
  readonly release: string;
  readonly arch: string;
  readonly discs: string;
}

/** What .treeinfo says, with both layouts folded into one shape. */
export interface TreeInfo {
  readonly product?: string;
  readonly version?: string;
  readonly arch?: string;
  /** Kernel and initrd per platform, from [images-<platform>]. */
  readonly images: ReadonlyMap<string, { kernel?: string; initrd?: string }>;
}

/** Returns the sections of an INI text as maps of key to value (`;` and `#` start comments). */
export function parseIni(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith(';') || line.startsWith('#')) continue;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      const name = header[1]!.trim();
      current = sections.get(name) ?? new Map();
      sections.set(name, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0 || !current) continue;
    current.set(line.slice(0, eq).trim().toLowerCase(), line.slice(eq + 1).trim());
  }
  return sections;
}

/** Returns the fields of a .discinfo text, or null when it has fewer than three lines. */
export function parseDiscInfo(text: string): DiscInfo | null {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  if (lines.length < 3 || !lines[1] || !lines[2]) return null;
  return { timestamp: lines[0] ?? '', release: lines[1], arch: lines[2], discs: lines[3] ?? '' };
}

/** Returns the fields of a .treeinfo text in either layout. */
export function parseTreeInfo(text: string): TreeInfo {
  const ini = parseIni(text);
  const general = ini.get('general');
  const release = ini.get('release');
  const tree = ini.get('tree');
  const images = new Map<string, { kernel?: string; initrd?: string }>();
  for (const [name, section] of ini) {
    const m = /^images-(.+)$/.exec(name);
    if (m) images.set(m[1]!, { kernel: section.get('kernel') || undefined, initrd: section.get('initrd') || undefined });
  }
  return {
    product: release?.get('name') || general?.get('family') || undefined,
    version: release?.get('version') || general?.get('version') || undefined,
    arch: tree?.get('arch') || general?.get('arch') || undefined,
    images,
  };
}

/** Returns the product and version in a release name such as "CentOS 4.4" or "Red Hat Enterprise Linux Server 5.4". */
export function splitRelease(release: string): { product: string; version?: string } {
  const m = /^(.*?)\s+(?:release\s+)?v?(\d+(?:\.\d+)*)\b.*$/i.exec(release.trim());
  if (!m) return { product: release.trim() };
  return { product: m[1]!.trim(), version: m[2]! };
}
