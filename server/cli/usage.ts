// Usage errors and help text for the `kickstand` command: bad usage exits 2 with one line.
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Thrown for bad command-line usage; main prints the one line and exits 2. */
export class UsageError extends Error {}

export const HELP: Record<string, string> = {
  main: `kickstand — network install server

usage: kickstand <command> [options]

commands:
  serve                         run the service (HTTP, TFTP, DHCP when configured)
  system add|import|set|list|show|rm|rebuild|disarm|events|power
  profile list|show             resolved profiles (secrets masked)
  render <kind> --system NAME   print an artifact (kickstart, install, rescue, prepare, xen, xl, pxelinux, ipxe, grub)
  iso list|inspect FILE         ISOs found in the isos folder and what was detected
  buildiso --system NAME -o FILE  a boot ISO with the system's kickstart baked in
  backup FILE                   a consistent copy of the database (also while a server runs)
  restore FILE                  put a backup back (refused while a server holds the data folder)
  store copy --from FILE --to URL  move an installation from SQLite to PostgreSQL

global options:
  --config FILE                 kickstand.yaml to use (default ./kickstand.yaml if present)
  -h, --help                    help for any command`,
  serve: `usage: kickstand serve [--config FILE]

Runs HTTP (default 8080), TFTP (69 as root, else 6969) and DHCP (when dhcp.mode is set).`,
  system: `usage:
  kickstand system add NAME --mac MAC [--mac MAC…] --profile PROFILE [--ip IP] [--hostname HOST]
                       [--override JSON] [--build]
  kickstand system set NAME [--profile P] [--name NEW] [--mac MAC…] [--ip IP] [--hostname H] [--override JSON]
                                      change a system; a profile registers a discovered machine
                                      (its discovery event stays in its history)
  kickstand system import FILE        many systems from CSV (header: name,mac,profile,ip,hostname,
                                      overrides,build; MACs split by space or ;) or YAML (a list of
                                      maps as for the API); all or nothing, errors name line and field
  kickstand system list [--json]
  kickstand system show NAME [--json]
  kickstand system rm NAME
  kickstand system rebuild NAME…      arm a fresh install run (new token); history is kept
      [--reboot]                      also set the next boot (network or CD) and power-cycle
      [--parallel N]                  several NAMEs: at most N at a time (default power.concurrency)
  kickstand system power NAME status|on|off|cycle [--json]
  kickstand system power NAME show    power settings (secret never shown) and the merged ones
  kickstand system power NAME set [--driver ipmi|libvirt|xen] [--address HOST|URI] [--user U]
      [--secret-file FILE | --secret-stdin | --clear-secret] [--port N] [--domain D] [--uefi]
      [--boot network|cd] [--config-dir DIR]   replaces the system's own settings (secret kept)
  kickstand system power NAME clear   remove them (profile defaults still apply)
  kickstand system disarm NAME        cancel an armed install
  kickstand system events NAME [--run N] [--json]   timeline with durations between steps`,
  profile: `usage:
  kickstand profile list
  kickstand profile show NAME         the resolved profile as JSON, secrets masked`,
  render: `usage: kickstand render <kind> --system NAME [--base URL]

kinds: kickstart, install, rescue, prepare, xen, xl, pxelinux, ipxe, grub`,
  iso: `usage:
  kickstand iso list                  ISOs in the isos folder and the distros found in them
  kickstand iso inspect FILE          what was detected in FILE, and why not when nothing was`,
  buildiso: `usage: kickstand buildiso --system NAME -o FILE [--base URL]

Builds a small boot ISO (isolinux, the distro's kernel and initrd, a menu with the system's
kickstart URL) for the CD route (attach as hdc:cdrom, boot="dca"). Needs xorriso.`,
  backup: `usage: kickstand backup FILE [--force]

Copies the database with SQLite's online backup (consistent while a server writes), checks it
with PRAGMA integrity_check and writes FILE as one self-contained file. --force overwrites FILE.`,
  restore: `usage: kickstand restore FILE

Replaces the database with the backup in FILE after checking it. Refused while a kickstand server
holds the data folder (stop it first); the replaced database is kept beside it as
kickstand.db.before-restore-<time>.`,
  store: `usage: kickstand store copy --from FILE --to URL

Copies every system, MAC, token, install event, DHCP lease and power setting from the SQLite
database FILE (e.g. var/kickstand.db; migrated to this kickstand's schema first) into the empty
PostgreSQL database at URL (postgres://user:password@host:5432/database), in one transaction, and
lists the rows copied per table. Stop kickstand serve on the SQLite store first.`,
};

/** Parses argv for a command, turning node's parse errors into UsageError. */
export function parse<T extends ParseArgsConfig['options']>(args: string[], options: T, allowPositionals = true) {
  try {
    return parseArgs({ args, options: { ...options, config: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]!);
  }
}
