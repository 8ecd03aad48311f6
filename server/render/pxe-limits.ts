// PXELINUX reads a config line into a fixed buffer: a longer APPEND is cut silently and the
// installer boots without its kickstart. Refuse to serve such a menu instead.
import { TemplateError } from '../errors.ts';

/** Longest config line pxelinux keeps (its buffer is 1024 bytes including the terminator). */
export const PXELINUX_MAX_LINE = 1022;

/** Throws TemplateError when any line of a rendered pxelinux menu is longer than PXELINUX_MAX_LINE bytes. */
export function checkPxelinux(text: string, what: string): void {
  text.split('\n').forEach((line, i) => {
    const n = Buffer.byteLength(line);
    if (n > PXELINUX_MAX_LINE) throw new TemplateError(`${what}: line ${i + 1} is ${n} bytes; pxelinux cuts lines at ${PXELINUX_MAX_LINE}`);
  });
}
