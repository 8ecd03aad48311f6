// The configuration schema: every key kickstand.yaml may hold, with its default. Unknown keys are
// refused so a typo never silently falls back to a default.
import { isIP } from 'node:net';
import { z } from 'zod';

const port = z.number().int().min(0).max(65535);
const ipv4 = z.string().regex(/^(\d{1,3})(\.\d{1,3}){3}$/, 'expected an IPv4 address');
const instanceName = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'expected a name of letters, digits, ".", "_" and "-"');
/** A Linux interface name: 1-15 characters, no space, '/' or ':' (an alias such as eth0:1 is not an interface). */
const ifname = z.string().regex(/^[^\s/:]{1,15}$/, "expected an interface name (1-15 characters, no spaces, '/' or ':')");

export const dhcpSchema = z
  .object({
    mode: z.enum(['off', 'proxy', 'full']).default('off'),
    /** Interface (or list of them) DHCP hears and answers on, nowhere else; required when DHCP is on. */
    interface: z.union([ifname, z.array(ifname).min(1)]).optional(),
    /** Address kickstand answers from (option 54, siaddr); required when DHCP is on. */
    server_ip: ipv4.optional(),
    subnet: z
      .object({
        network: ipv4,
        mask: ipv4,
        router: ipv4.optional(),
        dns: z.array(ipv4).default([]),
        domain: z.string().regex(/^[A-Za-z0-9.-]+$/).optional(),
        pool_start: ipv4,
        pool_end: ipv4,
        lease_seconds: z.number().int().min(60).default(3600),
      })
      .strict()
      .optional(),
    /** Boot BIOS clients into iPXE (undionly.kpxe) instead of pxelinux.0. */
    ipxe_chain: z.boolean().default(false),
    /** What x64 UEFI clients boot over TFTP: ipxe.efi, snponly.efi, shim (Secure Boot: shimx64.efi → grubx64.efi) or grub (grubx64.efi). */
    efi_loader: z.enum(['ipxe', 'snponly', 'shim', 'grub']).default('ipxe'),
    /** Clients already running iPXE (ROMs too): their iPXE script over HTTP, or `pxe`: the plain PXE path (pxelinux.0, GRUB) unless that is iPXE itself. */
    ipxe_clients: z.enum(['script', 'pxe']).default('script'),
    ports: z
      .object({ server: port.default(67), client: port.default(68), proxy: port.default(4011) })
      .strict()
      .default({}),
    /** Several instances on one network and one PostgreSQL store split clients by RFC 3074 hash buckets. */
    load_balancing: z
      .object({
        /** This instance's name; one of peers. */
        this_server: instanceName,
        /** Every instance serving this network, in the same order on each. */
        peers: z.array(instanceName).min(2).max(16),
        heartbeat_ms: z.number().int().min(100).default(1000),
        /** A peer with no heartbeat for this long is down: the others answer its clients until it is back. */
        max_response_delay_ms: z.number().int().min(500).default(5000),
      })
      .strict()
      .optional(),
  })
  .strict();

/** Returns true for an IPv4 or IPv6 address, optionally with a prefix length that fits it. */
function isHostOrCidr(v: string): boolean {
  const [addr, bits, extra] = v.split('/');
  const family = isIP(addr ?? '');
  if (family === 0 || extra !== undefined) return false;
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
}
const hostOrCidr = z.string().refine(isHostOrCidr, 'expected an IP address or CIDR, e.g. 10.0.0.5 or 10.0.0.0/24');

/** The trust model (README "Security"): what proves a request comes from the machine it names. */
export const securitySchema = z
  .object({
    /** `address`: a request naming a machine by MAC gets its install only from the machine's address; `any`: from anywhere. */
    match_by_mac: z.enum(['address', 'any']).default('address'),
    /** The first fetch of a run's kickstart or script binds the run to that address: its token URLs and reports count only from there. */
    bind_runs: z.boolean().default(true),
    /** Hosts that may report steps of any run and fetch its token URLs without binding it (Xen hosts running prepare.sh). */
    trusted_hosts: z.array(hostOrCidr).default([]),
  })
  .strict();

export const configSchema = z
  .object({
    data_dir: z.string().min(1).default('./var'),
    profiles_dir: z.string().min(1).default('./profiles'),
    isos_dir: z.string().min(1).default('./isos'),
    templates_dir: z.string().min(1).default('./templates'),
    /** Base URL guests use to reach kickstand over HTTP; derived from the request when unset. */
    public_url: z.string().url().optional(),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    http: z
      .object({
        host: z.string().default('0.0.0.0'),
        port: port.default(8080),
        /** Connections the kernel holds for accept(); the kernel clamps it to net.core.somaxconn. */
        backlog: z.number().int().min(1).max(65535).default(4096),
      })
      .strict()
      .default({}),
    tftp: z
      .object({
        enabled: z.boolean().default(true),
        host: z.string().default('0.0.0.0'),
        /** Defaults to 69 when running as root, else 6969. */
        port: port.optional(),
        /** Extra directories served read-only over TFTP (boot loaders are found automatically). */
        roots: z.array(z.string()).default([]),
        /** Boot loader name → file, replacing where kickstand looks for it in Debian's packages (or adding a name); served over TFTP and HTTP /boot/. */
        loaders: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'expected a boot file name'), z.string().min(1)).default({}),
        max_blksize: z.number().int().min(512).max(65464).default(1468),
        max_transfers: z.number().int().min(1).default(500),
        max_transfers_per_client: z.number().int().min(1).default(8),
        /** Microseconds to keep polling for a fast client's next ACK instead of sleeping; 0 turns it off. */
        busy_poll_us: z.number().int().min(0).max(100_000).default(100),
        /** Worker threads running transfers; unset: one per core (at most 8); 0 runs them on the main thread. */
        workers: z.number().int().min(0).max(64).optional(),
        /** Requests whose client has not acknowledged the first packet yet; past this the oldest is dropped. */
        max_unanswered: z.number().int().min(1).default(1024),
        /** Requests whose file is still being found (a menu waiting on the store); past this new ones are dropped and their clients ask again. */
        max_pending: z.number().int().min(1).max(100_000).default(1024),
        /** Data path of transfers: native (C threads, native/tftpengine), js (worker threads), auto (native when built). */
        engine: z.enum(['auto', 'native', 'js']).default('auto'),
      })
      .strict()
      .default({}),
    dhcp: dhcpSchema.default({}),
    store: z
      .object({
        /** PostgreSQL URL (postgres://user:password@host:5432/db) for several instances on one database; unset: SQLite in data_dir. */
        url: z.string().regex(/^postgres(ql)?:\/\/\S+$/, 'expected postgres://user:password@host:5432/database').optional(),
        /** Connections each instance keeps to PostgreSQL at most. */
        pool_size: z.number().int().min(1).max(200).default(10),
        connect_timeout_ms: z.number().int().min(100).default(5000),
        /** Longest one statement may run before it fails (and the request with it). */
        query_timeout_ms: z.number().int().min(100).default(10_000),
      })
      .strict()
      .default({}),
    auth: z
      .object({
        /** Admin bearer token; generated into the data folder on first start when unset. */
        admin_token: z.string().min(16).optional(),
      })
      .strict()
      .default({}),
    lifecycle: z
      .object({
        /** An installing system with no event for this long is shown as stalled. */
        stall_seconds: z.number().int().min(1).default(1800),
        /** A build token stops serving artifacts after this long (terminal reports still accepted). */
        token_ttl_seconds: z.number().int().min(60).default(86400),
        /** Largest installer log accepted with a `failed` report. */
        max_log_bytes: z.number().int().min(1024).default(1024 * 1024),
        /** Record unknown MACs that PXE-boot as `discovered` systems. */
        record_discovered: z.boolean().default(true),
        /** New `discovered` records per window (unknown MACs past it are served but not recorded). */
        discovered_per_window: z.number().int().min(0).default(60),
        discovered_window_seconds: z.number().int().min(1).default(60),
        /** `discovered` systems kept at most. */
        discovered_max: z.number().int().min(0).default(1000),
        /** Events one install run records at most; `built`/`failed` that end a live run always count. */
        max_events_per_run: z.number().int().min(10).default(500),
        /** `built`, `failed` and `booted` reports one run records at most (a retired token accepts them up to this). */
        max_final_reports_per_run: z.number().int().min(1).default(10),
        /** Installer log bytes kept per system; older logs are dropped first. */
        max_log_bytes_per_system: z.number().int().min(1024).default(8 * 1024 * 1024),
      })
      .strict()
      .default({}),
    security: securitySchema.default({}),
    metrics: z
      .object({
        /** Serve /metrics on its own listener (e.g. 127.0.0.1) instead of the main HTTP port. */
        host: z.string().min(1).optional(),
        port: port.optional(),
        /** Bearer token scrapers must send (the admin token is accepted too); unset: /metrics is open. */
        token: z.string().min(16).optional(),
      })
      .strict()
      .default({}),
    power: z
      .object({
        /** Key that seals power secrets in the store (created 0600 on first use); default <data_dir>/power-secrets.key. */
        key_file: z.string().min(1).optional(),
        /** How often the server asks every machine with power settings for its state; 0 turns it off. */
        poll_seconds: z.number().int().min(0).default(300),
        /** Machines talked to at once by a bulk rebuild or a poll. */
        concurrency: z.number().int().min(1).max(64).default(4),
        /** How long one ipmitool, virsh or xl command may take. */
        command_timeout_seconds: z.number().int().min(1).max(600).default(30),
      })
      .strict()
      .default({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type DhcpConfig = z.infer<typeof dhcpSchema>;
