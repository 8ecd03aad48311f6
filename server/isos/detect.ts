// Distro detection: which install tree an image holds, from .treeinfo, else .discinfo, else the
// isolinux/ and images/pxeboot/ conventions, with the reasons kept so `iso inspect` can say why
// (or why not).
import { parseDiscInfo, parseTreeInfo, splitRelease } from './treeinfo.ts';

/** Distro families kickstart templates exist for; 'unknown' when none fits. */
export type DistroFamily = 'el4' | 'el5' | 'el6' | 'el7' | 'el8' | 'el9' | 'el10' | 'fedora' | 'unknown';

/** Newest EL major version kickstand has a kickstart template for. */
export const NEWEST_EL = 10;

/** What detection found in one tree. */
export interface DetectedDistro {
  /** Stable slug usable in URLs, file names and profiles, e.g. centos-4.4-i386. */
  readonly name: string;
  readonly family: DistroFamily;
  /** Product as the tree names it, e.g. "CentOS" or "Rocky Linux"; '' when unknown. */
  readonly product: string;
  readonly version: string;
  readonly arch: string;
  /** Kernel and initrd paths inside the tree (no leading slash), null when none was found. */
  readonly kernel: string | null;
  readonly initrd: string | null;
  readonly source: 'treeinfo' | 'discinfo' | 'layout' | 'none';
  /** Why the answer is what it is, and why other sources were passed over. */
  readonly reasons: string[];
}

/** What detection needs of a tree (an IsoReader fits). */
export interface TreeFiles {
  readFile(path: string, maxBytes?: number): Promise<Buffer | null>;
  stat(path: string): Promise<{ readonly type: string } | null>;
}

/** Hints used when the tree names itself nowhere: the volume id and the image's file name. */
export interface DetectHints {
  readonly volumeId?: string;
  readonly fileName?: string;
}

/** Kernel/initrd pairs tried, in order, when .treeinfo does not name them. */
export const KERNEL_CONVENTIONS: ReadonlyArray<readonly [string, string]> = [
  ['images/pxeboot/vmlinuz', 'images/pxeboot/initrd.img'],
  ['isolinux/vmlinuz', 'isolinux/initrd.img'],
];

const EL_PRODUCTS: Array<[RegExp, string]> = [
  [/^centos stream/i, 'centos-stream'],
  [/^centos/i, 'centos'],
  [/^red hat enterprise linux|^rhel/i, 'rhel'],
  [/^rocky/i, 'rocky'],
  [/^alma/i, 'almalinux'],
  [/^scientific linux/i, 'sl'],
  [/^oracle linux|^enterprise linux/i, 'ol'],
];
const ARCH_RE = /(?<![A-Za-z0-9])(i[3-6]86|x86_64|aarch64|ppc64le|ppc64|s390x)(?![A-Za-z0-9])/g;
const MAX_INFO_BYTES = 256 * 1024;

/** Returns what distro `tree` holds; never throws for a missing or odd file, only for an unreadable image. */
export async function detectDistro(tree: TreeFiles, hints: DetectHints = {}): Promise<DetectedDistro> {
  const reasons: string[] = [];
  const conventional = await findKernel(tree, reasons);
  const treeText = await tree.readFile('.treeinfo', MAX_INFO_BYTES);
  if (treeText) {
    const ti = parseTreeInfo(treeText.toString('utf8'));
    if (ti.product && ti.version && ti.arch) {
      reasons.push(`.treeinfo names ${JSON.stringify(ti.product)} version ${JSON.stringify(ti.version)} arch ${JSON.stringify(ti.arch)}`);
      let pair = conventional;
      const img = ti.images.get(ti.arch);
      if (img?.kernel && img.initrd) {
        const named = await bothExist(tree, img.kernel, img.initrd);
        if (named) {
          pair = named;
          reasons.push(`.treeinfo [images-${ti.arch}] names kernel ${img.kernel} and initrd ${img.initrd}`);
        } else reasons.push(`.treeinfo [images-${ti.arch}] names ${img.kernel} and ${img.initrd}, but they are not both in the tree`);
      } else reasons.push(`.treeinfo has no kernel and initrd in [images-${ti.arch}]`);
      return result(ti.product, ti.version, ti.arch, pair, 'treeinfo', reasons);
    }
    reasons.push('.treeinfo lacks a product, version or arch');
  } else reasons.push('no .treeinfo');

  const discText = await tree.readFile('.discinfo', MAX_INFO_BYTES);
  if (discText) {
    const di = parseDiscInfo(discText.toString('utf8'));
    const rel = di ? splitRelease(di.release) : undefined;
    if (di && rel?.version) {
      reasons.push(`.discinfo names release ${JSON.stringify(di.release)} arch ${JSON.stringify(di.arch)} discs ${JSON.stringify(di.discs)}`);
      const disc = /^\d+$/.test(di.discs) && di.discs !== '1' ? di.discs : undefined;
      if (disc) reasons.push(`disc ${disc} of a set: named with a -disc${disc} suffix`);
      return result(rel.product, rel.version, di.arch, conventional, 'discinfo', reasons, disc);
    }
    reasons.push('.discinfo has no release name with a version on line 2 or no arch on line 3');
  } else reasons.push('no .discinfo');

  if (conventional) {
    const { product, version, arch } = guessFromLabel(hints);
    reasons.push(`guessed from volume id ${JSON.stringify(hints.volumeId ?? '')} and file name ${JSON.stringify(hints.fileName ?? '')}`);
    const fallback = slug(hints.volumeId || hints.fileName?.replace(/\.iso$/i, '') || 'iso');
    return result(product, version, arch, conventional, 'layout', reasons, undefined, product && version ? undefined : fallback);
  }
  return result('', '', '', null, 'none', reasons, undefined, slug(hints.volumeId || hints.fileName?.replace(/\.iso$/i, '') || 'iso'));
}

/** Returns product, version and arch guessed from the volume id and file name (e.g. CentOS_4.4_Final). */
function guessFromLabel(hints: DetectHints): { product: string; version: string; arch: string } {
  const raw = `${hints.volumeId ?? ''} ${hints.fileName ?? ''}`;
  const arch = raw.match(ARCH_RE)?.[0] ?? '';
  const words = raw.replace(ARCH_RE, ' ').replace(/\.iso\b/gi, '').replace(/[_-]/g, ' ').trim();
  const el = EL_PRODUCTS.find(([re]) => re.test(words));
  const product = el ? el[0].exec(words)![0] : /^fedora/i.test(words) ? 'Fedora' : '';
  const version = /\b(\d+(?:\.\d+)?)\b/.exec(words)?.[1] ?? '';
  return { product, version, arch };
}

/** Returns the first conventional kernel/initrd pair present, noting each miss in `reasons`. */
async function findKernel(tree: TreeFiles, reasons: string[]): Promise<[string, string] | null> {
  for (const [k, i] of KERNEL_CONVENTIONS) {
    const pair = await bothExist(tree, k, i);
    if (pair) return pair;
    reasons.push(`no ${k} with ${i}`);
  }
  return null;
}

/** Returns the pair when both paths are regular files in the tree. */
async function bothExist(tree: TreeFiles, kernel: string, initrd: string): Promise<[string, string] | null> {
  const k = kernel.replace(/^\/+/, '');
  const i = initrd.replace(/^\/+/, '');
  const [ks, is] = await Promise.all([tree.stat(k), tree.stat(i)]);
  return ks?.type === 'file' && is?.type === 'file' ? [k, i] : null;
}

/** Returns the detection result with its name and family derived. */
function result(
  product: string,
  version: string,
  arch: string,
  pair: [string, string] | null,
  source: DetectedDistro['source'],
  reasons: string[],
  disc?: string,
  nameOverride?: string,
): DetectedDistro {
  if (!pair) reasons.push('no kernel and initrd found: not bootable from this tree');
  const family = familyOf(product, version);
  reasons.push(family === 'unknown' ? `family unknown for ${JSON.stringify(product)} ${JSON.stringify(version)}` : `family ${family}`);
  const base = nameOverride ?? [productSlug(product), version, arch].filter(Boolean).join('-');
  const name = slug(disc ? `${base}-disc${disc}` : base);
  return { name, family, product, version, arch, kernel: pair?.[0] ?? null, initrd: pair?.[1] ?? null, source, reasons };
}

/** Returns the family for a product and version: EL rebuilds by major version, Fedora as itself. */
export function familyOf(product: string, version: string): DistroFamily {
  if (/^fedora/i.test(product)) return 'fedora';
  const major = Number(/^(\d+)/.exec(version)?.[1]);
  if (!EL_PRODUCTS.some(([re]) => re.test(product)) || !(major >= 4 && major <= NEWEST_EL)) return 'unknown';
  return `el${major}` as DistroFamily;
}

/** Returns the short product slug, e.g. "Red Hat Enterprise Linux Server" → rhel. */
function productSlug(product: string): string {
  if (/^fedora/i.test(product)) return 'fedora';
  return EL_PRODUCTS.find(([re]) => re.test(product))?.[1] ?? slug(product);
}

/** Returns `s` lower-cased with runs of other characters turned into "-" (fits profiles' NAME_RE). */
export function slug(s: string): string {
  const out = s.toLowerCase().replace(/[^a-z0-9._]+/g, '-').replace(/^[-._]+|[-._]+$/g, '').slice(0, 63);
  return out || 'iso';
}
