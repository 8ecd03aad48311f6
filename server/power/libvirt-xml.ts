// Boot order in a libvirt domain's XML: the `<boot dev=…/>` elements of `<os>`. libvirt writes
// this XML itself (virsh dumpxml), so a careful textual edit of the one `<os>` element is enough;
// per-device `<boot order=…/>` cannot be mixed with it, and is refused rather than rewritten.
import { PowerError } from '../errors.ts';

/** libvirt boot device names. */
export type LibvirtBootDev = 'network' | 'cdrom' | 'hd' | 'fd';

/** Boot order while an install is armed, per next-boot device (network or the install CD). */
export const INSTALL_ORDER: Readonly<Record<'network' | 'cd', readonly LibvirtBootDev[]>> = { network: ['network', 'hd'], cd: ['cdrom', 'hd'] };
/** Boot order once the system is built: its disk. */
export const INSTALLED_ORDER: readonly LibvirtBootDev[] = ['hd'];

const OS_RE = /<os(?:\s[^>]*)?>[\s\S]*?<\/os>/;
const OS_BOOT_RE = /[ \t]*<boot\s+dev=(['"])[a-z]+\1\s*\/>[ \t]*\r?\n?/g;
const DEVICE_BOOT_RE = /<boot\s+order=/;

/** Returns the `<boot dev>` order of a domain XML's `<os>` element. */
export function bootOrder(xml: string): string[] {
  const os = OS_RE.exec(xml)?.[0] ?? '';
  return [...os.matchAll(/<boot\s+dev=(['"])([a-z]+)\1\s*\/>/g)].map((m) => m[2]!);
}

/** Returns the domain XML with `<os>` booting from devs in order; throws PowerError when the XML has no `<os>` or orders boot per device. */
export function withBootOrder(xml: string, devs: readonly LibvirtBootDev[], what: string): string {
  const os = OS_RE.exec(xml);
  if (!os) throw new PowerError(`${what}: the domain XML has no <os> element`);
  if (DEVICE_BOOT_RE.test(xml)) {
    throw new PowerError(`${what}: the domain orders boot per device (<boot order=…>); remove those and let kickstand set <os> boot order`);
  }
  const block = os[0];
  const indent = /\n([ \t]*)<type/.exec(block)?.[1] ?? '    ';
  const stripped = block.replace(OS_BOOT_RE, '');
  const boots = devs.map((d) => `${indent}<boot dev='${d}'/>\n`).join('');
  const close = stripped.lastIndexOf('</os>');
  const before = stripped.slice(0, close).replace(/[ \t]*$/, '');
  const closeIndent = /\n([ \t]*)<\/os>$/.exec(block)?.[1] ?? '  ';
  const rebuilt = `${before.endsWith('\n') ? before : `${before}\n`}${boots}${closeIndent}</os>`;
  return xml.slice(0, os.index) + rebuilt + xml.slice(os.index + block.length);
}
