// A kickstart grammar per family, kept small on purpose: the commands and options kickstand's
// templates use, as each anaconda generation accepts them (RHEL 4-10 and Fedora installation
// guides and pykickstart's version handlers: RHEL4 = FC3 commands, RHEL5 part gains --label (FC4),
// logvol --label from F15 (el7), install deprecated in F29 (el8) and removed in F34 (el9), auth
// deprecated in F28 and removed in F35 (el10), timezone --isUtc/--ntpservers/--nontp deprecated
// in F32/F33 and removed in F40 (el10)), the section rules (%end forbidden before el6, required
// from el6), and the deprecations of the next version: a family's kickstart must not use what its
// successor deprecates or removes, unless its own installer needs it (el4's langsupport).
// A template change that writes something an installer of that family would reject fails here.
import type { Family } from '../../server/profiles/schema.ts';

interface Spec {
  flags?: string[];
  values?: string[];
  /** Positional arguments: [min, max]. */
  args?: [number, number];
  /** Allowed values of some options. */
  choices?: Record<string, string[]>;
}

/** Every family in order; fedora is the current Fedora release (43 and later). */
export const ORDER: readonly Family[] = ['el4', 'el5', 'el6', 'el7', 'el8', 'el9', 'el10', 'fedora'];
const from = (f: Family, first: Family, last: Family = 'fedora'): boolean => ORDER.indexOf(f) >= ORDER.indexOf(first) && ORDER.indexOf(f) <= ORDER.indexOf(last);

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
    network: {
      values: ['device', 'bootproto', 'hostname', 'ip', 'netmask', 'gateway', 'nameserver', ...(from(f, 'el6') ? ['onboot'] : [])],
      flags: from(f, 'el7') ? ['activate'] : [],
      choices: { bootproto: ['dhcp', 'static', 'bootp'], onboot: ['yes', 'no', 'on', 'off'] },
    },
    rootpw: { flags: ['iscrypted', ...(from(f, 'el7') ? ['lock'] : [])], args: from(f, 'el7') ? [0, 1] : [1, 1] },
    firewall: { flags: ['enabled', 'disabled', ...(from(f, 'el5') ? ['ssh'] : [])], values: from(f, 'el6') ? ['service'] : [] },
    selinux: { flags: ['enforcing', 'permissive', 'disabled'] },
    // kickstand always names a zone, so one argument everywhere (el7 and later would take none).
    timezone: {
      flags: ['utc', ...(from(f, 'el5', 'el9') ? ['isUtc'] : []), ...(from(f, 'el7', 'el9') ? ['nontp'] : [])],
      values: from(f, 'el7', 'el9') ? ['ntpservers'] : [],
      args: [1, 1],
    },
    firstboot: { flags: ['disable', 'enable'] },
    bootloader: { values: ['location', 'append', 'driveorder', ...(from(f, 'el7') ? ['boot-drive'] : [])], choices: { location: ['mbr', 'partition', 'none'] } },
    zerombr: { args: f === 'el4' ? [1, 1] : [0, 0] },
    clearpart: { flags: ['all', 'initlabel'], values: ['drives', ...(from(f, 'el7') ? ['disklabel'] : [])] },
    part: { values: ['fstype', 'size', 'ondisk', ...(from(f, 'el5') ? ['label'] : [])], flags: ['grow', 'asprimary'], args: [1, 1] },
    volgroup: { values: ['pesize'], args: [2, 64] },
    logvol: { values: ['vgname', 'name', 'fstype', 'size', ...(from(f, 'el7') ? ['label'] : [])], flags: ['grow'], args: [1, 1] },
  };
  if (from(f, 'el4', 'el7')) g.install = {};
  if (from(f, 'el4', 'el5')) {
    g.langsupport = { values: ['default'], args: [1, 20] };
    g.mouse = { args: [0, 1] };
  }
  if (f === 'el5') g.key = { flags: ['skip'] };
  if (from(f, 'el4', 'el9')) {
    const auth = { flags: ['enableshadow', 'enablemd5', 'useshadow'], values: from(f, 'el6') ? ['passalgo'] : [] };
    g.authconfig = auth;
    if (from(f, 'el7')) g.auth = auth;
  }
  if (from(f, 'el8')) g.reqpart = { flags: ['add-boot'] };
  if (from(f, 'el5')) g.vnc = { values: ['password'] };
  if (from(f, 'fedora')) g.rdp = {};
  return g;
}

/** What the version after a family deprecates or removes: `cmd` or `cmd --option`. */
const NEXT_DEPRECATES: Readonly<Record<Family, readonly string[]>> = {
  el4: ['langsupport'],
  el5: ['langsupport', 'mouse', 'key'],
  el6: [],
  el7: ['install', 'auth', 'authconfig'],
  el8: ['auth', 'authconfig', 'timezone --isUtc', 'timezone --ntpservers', 'timezone --nontp'],
  el9: ['auth', 'authconfig', 'timezone --isUtc', 'timezone --ntpservers', 'timezone --nontp'],
  el10: ['vnc'],
  fedora: ['vnc', 'module', 'nvdimm'],
};
/** What a family's own installer needs although its successor deprecates it. */
const NEEDED_BY_OWN: Readonly<Partial<Record<Family, readonly string[]>>> = {
  // RHEL 4's installation guide lists langsupport as required.
  el4: ['langsupport'],
  // RHEL 5 asks for an installation number unless told `key --skip`.
  el5: ['key'],
};

const SECTIONS = ['%packages', '%pre', '%post', '%onerror', '%traceback'];

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

/** One command line parsed against its spec: options given and positional arguments. */
interface Parsed {
  at: string;
  cmd: string;
  options: Map<string, string | true>;
  args: string[];
}

/** Returns the problems of one command line (and the parse) against the family's spec. */
function parseCommand(line: string, at: string, family: Family, cmds: Record<string, Spec>, problems: string[]): Parsed | null {
  const [cmd, ...rest] = words(line);
  const spec = cmds[cmd!];
  if (!spec) {
    problems.push(`${at}: ${family} has no command ${JSON.stringify(cmd)}`);
    return null;
  }
  const options = new Map<string, string | true>();
  const args: string[] = [];
  for (let k = 0; k < rest.length; k++) {
    const w = rest[k]!;
    if (!w.startsWith('-')) {
      args.push(w);
      continue;
    }
    if (!w.startsWith('--')) {
      problems.push(`${at}: ${cmd}: ${JSON.stringify(w)} is an option anaconda does not know (a value in option position?)`);
      continue;
    }
    const [name, inline] = w.slice(2).split(/=(.*)/s) as [string, string | undefined];
    if (options.has(name)) problems.push(`${at}: ${cmd} --${name} is given twice`);
    if (spec.flags?.includes(name)) {
      if (inline !== undefined) problems.push(`${at}: ${cmd} --${name} takes no value`);
      options.set(name, true);
    } else if (spec.values?.includes(name)) {
      let value = inline;
      if (value === undefined) {
        const next = rest[k + 1];
        if (next === undefined || next.startsWith('-')) problems.push(`${at}: ${cmd} --${name} needs a value`);
        else value = next;
        k++;
      } else if (value === '') problems.push(`${at}: ${cmd} --${name}= is empty`);
      else if (value.startsWith('-')) problems.push(`${at}: ${cmd} --${name}=${value}: a value starting with "-"`);
      if (value !== undefined) {
        const choices = spec.choices?.[name];
        if (choices && !choices.includes(value)) problems.push(`${at}: ${cmd} --${name}: ${JSON.stringify(value)} is not one of ${choices.join(', ')}`);
        options.set(name, value);
      }
    } else problems.push(`${at}: ${family} ${cmd} has no option --${name}`);
  }
  const [min, max] = spec.args ?? [0, 0];
  if (args.length < min || args.length > max) problems.push(`${at}: ${cmd} takes ${min === max ? min : `${min} to ${max}`} arguments, got ${args.length}`);
  return { at, cmd: cmd!, options, args };
}

/** Returns the problems of the commands together: required commands, static network, LVM references, next-version deprecations. */
function checkTogether(family: Family, parsed: Parsed[], problems: string[]): void {
  const seen = new Set(parsed.map((p) => p.cmd));
  const required = ['lang', 'rootpw', 'timezone', 'bootloader', ...(from(family, 'el4', 'el6') ? ['keyboard'] : []), ...(family === 'el4' ? ['langsupport'] : [])];
  for (const r of required) if (!seen.has(r)) problems.push(`missing required command ${r}`);
  if (!seen.has('part') && !seen.has('logvol')) problems.push('missing partitioning (part or logvol)');
  if (!seen.has('url') && !seen.has('cdrom')) problems.push('missing an install source (url or cdrom)');
  if (from(family, 'el4', 'el6') && !seen.has('install')) problems.push(`${family} needs the install command`);
  for (const p of parsed) {
    if (p.cmd === 'network' && p.options.get('bootproto') === 'static' && !(p.options.has('ip') && p.options.has('netmask'))) problems.push(`${p.at}: network --bootproto=static needs --ip and --netmask`);
    if (['timezone', 'lang', 'keyboard'].includes(p.cmd) && p.args.some((a) => a.startsWith('-'))) problems.push(`${p.at}: ${p.cmd}: an argument starting with "-"`);
  }
  const pvs = new Set(parsed.filter((p) => p.cmd === 'part' && p.args[0]?.startsWith('pv.')).map((p) => p.args[0]!));
  const vgs = new Set<string>();
  for (const p of parsed.filter((x) => x.cmd === 'volgroup')) {
    vgs.add(p.args[0]!);
    for (const pv of p.args.slice(1)) if (!pvs.has(pv)) problems.push(`${p.at}: volgroup ${p.args[0]}: no part ${pv}`);
  }
  for (const p of parsed.filter((x) => x.cmd === 'logvol')) {
    const vg = p.options.get('vgname');
    if (typeof vg !== 'string' || !vgs.has(vg)) problems.push(`${p.at}: logvol ${p.args[0]}: --vgname names no volgroup declared before it`);
    if (!p.options.has('name')) problems.push(`${p.at}: logvol ${p.args[0]} needs --name`);
  }
  const needed = NEEDED_BY_OWN[family] ?? [];
  for (const d of NEXT_DEPRECATES[family]) {
    if (needed.includes(d)) continue;
    const [cmd, option] = d.split(' --');
    for (const p of parsed) if (p.cmd === cmd && (option === undefined || p.options.has(option))) problems.push(`${p.at}: ${d} is deprecated or removed by the version after ${family}`);
  }
}

/** Returns the problems of a kickstart for a family (empty when it passes) and its sections. */
export function checkKickstart(text: string, family: Family): { problems: string[]; sections: Section[] } {
  const problems: string[] = [];
  const cmds = commandsOf(family);
  const sections: Section[] = [];
  const parsed: Parsed[] = [];
  let open: Section | null = null;
  text.split('\n').forEach((line, i) => {
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
      if (head === '%onerror' && from(family, 'el4', 'el5')) problems.push(`${at}: %onerror is not understood by ${family}`);
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
    const p = parseCommand(line, at, family, cmds, problems);
    if (p) parsed.push(p);
  });
  if (open && from(family, 'el6')) problems.push(`end of file: ${(open as Section).header} is not closed with %end`);
  checkTogether(family, parsed, problems);
  const packages = sections.find((s) => s.header === '%packages');
  if (!packages) problems.push('missing %packages');
  for (const l of packages?.body ?? []) if (/(^|\s)-/.test(l.trim()) && !/^-[A-Za-z0-9]/.test(l.trim())) problems.push(`%packages: ${JSON.stringify(l)} carries an option`);
  return { problems, sections };
}
