// MAC address parsing: accepts the spellings operators paste and returns one canonical form.
import { BadRequestError } from '../errors.ts';

const FORMS = [
  /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i,
  /^([0-9a-f]{2})([0-9a-f]{2})\.([0-9a-f]{2})([0-9a-f]{2})\.([0-9a-f]{2})([0-9a-f]{2})$/i,
  /^([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i,
];

/** Returns the canonical MAC (lowercase, colon-separated) or null when s is not a MAC. */
export function parseMac(s: string): string | null {
  const t = s.trim();
  if (t.includes('-') && t.includes(':')) return null;
  for (const re of FORMS) {
    const m = re.exec(t);
    if (m) return m.slice(1, 7).join(':').toLowerCase();
  }
  return null;
}

/** Returns the canonical MAC or throws BadRequestError naming the field and the bad value. */
export function requireMac(s: string, field: string): string {
  const mac = parseMac(s);
  if (!mac) throw new BadRequestError(`invalid MAC address ${JSON.stringify(s)} (use aa:bb:cc:dd:ee:ff, AA-BB-CC-DD-EE-FF or aabb.ccdd.eeff)`, field);
  return mac;
}

/** Returns the PXELINUX file name for a MAC: "01-" then the bytes lowercase with dashes. */
export function pxelinuxMacName(mac: string): string {
  return `01-${mac.replace(/:/g, '-')}`;
}
