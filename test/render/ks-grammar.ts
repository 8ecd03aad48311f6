// A kickstart grammar per family, kept small on purpose: the commands and options kickstand's
// templates use, as each anaconda generation accepts them (RHEL 4-9 installation guides and
// pykickstart's handlers), and the section rules (%end forbidden before el6, required from el6).
// A template change that writes something an installer of that family would reject fails here.
import type { Family } from '../../server/profiles/schema.ts';

interface Spec {
  flags?: string[];
  values?: string[];
  /** Positional arguments: [min, max]. */
  args?: [number, number];
}

type El = Exclude<Family, 'fedora'>;
const ORDER: El[] = ['el4', 'el5', 'el6', 'el7', 'el8', 'el9'];
const from = (f: Family, first: El, last: El = 'el9'): boolean => ORDER.indexOf(f as El) >= ORDER.indexOf(first) && ORDER.indexOf(f as El) <= ORDER.indexOf(last);

/** Returns the commands (with their options) a family's anaconda accepts, as far as kickstand uses them. */
export function commandsOf(f: Family): Record<string, Spec> {
  const g: Record<string, Spec> = {
    url: { values: ['url'] },
    cdrom: {},
    text: {},
    skipx: {},
    reboot: {},
    lang: { args: [1, 1] },
    keyboard: from(f, 'el7') ? { values: ['vckeymap', 'xlayouts'], args: [0, 1] } : { args: [1, 1] },
    network: { values: ['device', 'bootproto', 'hostname', ...(from(f, 'el6') ? ['onboot'] : [])], flags: from(f, 'el7') ? ['activate'] : [] },
    rootpw: { flags: ['iscrypted', ...(from(f, 'el7') ? ['lock'] : [])], args: [0, 1] },
    firewall: { flags: ['enabled', 'disabled', ...(from(f, 'el5') ? ['ssh'] : [])], values: from(f, 'el6') ? ['service'] : [] },
    selinux: { flags: ['enforcing', 'permissive', 'disabled'] },
    timezone: { flags: ['utc', ...(from(f, 'el7') ? ['isUtc'] : [])], args: [1, 1] },
    firstboot: { flags: ['disable', 'enable'] },
    bootloader: { values: ['location', 'append', ...(from(f, 'el7') ? ['boot-drive'] : ['driveorder'])] },
    zerombr: { args: from(f, 'el4', 'el4') ? [1, 1] : [0, 0] },
    clearpart: { flags: ['all', 'initlabel'], values: ['drives', ...(from(f, 'el7') ? ['disklabel'] : [])] },
    part: { values: ['fstype', 'size', 'ondisk', ...(from(f, 'el6') ? ['label'] : [])], flags: ['grow', 'asprimary'], args: [1, 1] },
  };
  if (from(f, 'el4', 'el7')) g.install = {};
  if (f === 'el4') {
    g.langsupport = { values: ['default'], args: [1, 20] };
    g.mouse = { args: [1, 1] };
  }
  if (f === 'el5') g.key = { flags: ['skip'] };
  if (from(f, 'el4', 'el6')) g.authconfig = { flags: ['enableshadow', 'enablemd5'], values: from(f, 'el6') ? ['passalgo'] : [] };
  if (f === 'el7') g.auth = { flags: ['enableshadow'], values: ['passalgo'] };
  if (from(f, 'el8')) g.reqpart = { flags: ['add-boot'] };
  return g;
}

const SECTIONS = ['%packages', '%pre', '%post', '%onerror', '%traceback'];
const REQUIRED = ['lang', 'keyboard', 'rootpw', 'timezone', 'bootloader', 'part'];

/** Splits a kickstart line into words the way pykickstart's shlex does for what we write (double quotes, no escapes). */
export function words(line: string): string[] {
  const out: string[] = [];
  let cur: string | null = null;
  let quoted = false;
  for (const ch of line) {
    if (ch === '"') {
      quoted = !quoted;
      cur ??= '';
    } else if (/\s/.test(ch) && !quoted) {
      if (cur !== null) out.push(cur);
      cur = null;
    } else cur = (cur ?? '') + ch;
  }
  if (quoted) throw new Error(`unbalanced quote in ${JSON.stringify(line)}`);
  if (cur !== null) out.push(cur);
  return out;
}

/** One section of a kickstart: its header line and body lines. */
export interface Section {
  header: string;
  body: string[];
}

/** Returns the problems of a kickstart for a family (empty when it passes) and its sections. */
export function checkKickstart(text: string, family: Family): { problems: string[]; sections: Section[] } {
  const problems: string[] = [];
  const cmds = commandsOf(family);
  const sections: Section[] = [];
  let open: Section | null = null;
  const seen = new Set<string>();
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    const at = `line ${i + 1}`;
    if (line.startsWith('%')) {
      const head = line.split(/\s+/)[0]!;
      if (head === '%end') {
        if (from(family, 'el4', 'el5')) problems.push(`${at}: %end is not understood by ${family}`);
        else if (!open) problems.push(`${at}: %end without an open section`);
        open = null;
        return;
      }
      if (!SECTIONS.includes(head)) {
        problems.push(`${at}: unknown section ${head}`);
        return;
      }
      if (open && from(family, 'el6')) problems.push(`${at}: ${head} opens before ${(open as Section).header} is closed with %end`);
      open = { header: head, body: [] };
      sections.push(open);
      return;
    }
    if (open) {
      (open as Section).body.push(line);
      return;
    }
    if (line.trim() === '' || line.startsWith('#')) return;
    const [cmd, ...rest] = words(line);
    const spec = cmds[cmd!];
    if (!spec) {
      problems.push(`${at}: ${family} has no command ${JSON.stringify(cmd)}`);
      return;
    }
    seen.add(cmd!);
    let args = 0;
    for (let k = 0; k < rest.length; k++) {
      const w = rest[k]!;
      if (!w.startsWith('--')) {
        args++;
        continue;
      }
      const [name, value] = w.slice(2).split(/=(.*)/s) as [string, string | undefined];
      if (spec.flags?.includes(name)) {
        if (value !== undefined) problems.push(`${at}: ${cmd} --${name} takes no value`);
      } else if (spec.values?.includes(name)) {
        if (value === undefined) {
          const next = rest[k + 1];
          if (next === undefined || next.startsWith('--')) problems.push(`${at}: ${cmd} --${name} needs a value`);
          k++;
        } else if (value === '') problems.push(`${at}: ${cmd} --${name}= is empty`);
      } else problems.push(`${at}: ${family} ${cmd} has no option --${name}`);
    }
    const [min, max] = spec.args ?? [0, 0];
    if (args < min || args > max) problems.push(`${at}: ${cmd} takes ${min === max ? min : `${min} to ${max}`} arguments, got ${args}`);
  });
  if (open && from(family, 'el6')) problems.push(`end of file: ${(open as Section).header} is not closed with %end`);
  for (const r of REQUIRED) if (!seen.has(r)) problems.push(`missing required command ${r}`);
  if (!seen.has('url') && !seen.has('cdrom')) problems.push('missing an install source (url or cdrom)');
  if (from(family, 'el4', 'el7') && !seen.has('install')) problems.push(`${family} needs the install command`);
  if (!sections.some((s) => s.header === '%packages')) problems.push('missing %packages');
  return { problems, sections };
}
