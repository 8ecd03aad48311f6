// The DHCP booter: picks a boot file by client architecture (RFC 4578 section 2.1, IANA's
// processor architecture types) and what the client already runs, and looks up reservations. It
// knows nothing of sockets; the store lookup, the loaders on this host and the lifecycle hook are
// injected so tests run it with fakes.
import type { Logger } from '../log.ts';
import type { BootAnswer, DhcpBooter, Reservation } from '../dhcp/booter.ts';
import type { DhcpClientInfo } from '../dhcp/client-info.ts';

/** Boot file names, per firmware. */
export interface BootFiles {
  /** BIOS PXE, no iPXE chaining (default pxelinux.0). */
  bios: string;
  /** BIOS PXE chaining into iPXE (default undionly.kpxe). */
  biosIpxe: string;
  /** EFI x64 (93 = 7 or 9) over TFTP; default from the efiLoader setting (ipxe.efi). */
  efi64: string;
  /** EFI IA32 (93 = 6), default ipxe.efi. */
  efi32: string;
  /** ARM64 UEFI (93 = 11, and 19 over HTTP): Debian's signed GRUB network image, or shim when efiLoader is shim. */
  arm64: string;
  /** x64 UEFI HTTP Boot (93 = 16): an iPXE image, fetched by URL. */
  efi64Http: string;
}

/** What x64 UEFI clients get over TFTP: iPXE (ipxe.efi or snponly.efi), or the Secure Boot chain shim → GRUB, or GRUB alone. */
export type EfiLoader = 'ipxe' | 'snponly' | 'shim' | 'grub';
/** What clients already running iPXE get: their iPXE script over HTTP, or the plain PXE path (never an iPXE binary again). */
export type IpxeClients = 'script' | 'pxe';

export interface DhcpBooterConfig {
  /** TFTP server address (siaddr). */
  tftpServer: string;
  /** Base URL of kickstand's HTTP server, e.g. http://10.0.0.1:8080 (no trailing slash needed). */
  httpBase: string;
  /** BIOS clients chain-load iPXE (undionly.kpxe) instead of pxelinux.0. */
  ipxeChain: boolean;
  /** x64 (and ARM64) UEFI clients' boot loader over TFTP (default ipxe). */
  efiLoader?: EfiLoader;
  /** iPXE clients (ROMs included) get the iPXE script (default) or go down the plain PXE path. */
  ipxeClients?: IpxeClients;
  files?: Partial<BootFiles>;
  /** Path of the iPXE script on the HTTP server; `{mac}` is replaced by the client's MAC. */
  ipxeScriptPath?: string;
  /** Path of boot loaders on the HTTP server; `{file}` is replaced by the file name. */
  loaderPath?: string;
}

/** The boot loaders present on this host (LoaderFiles implements it). */
export interface LoaderCatalog {
  has(name: string): boolean;
  packageOf(name: string): string | null;
}

export interface DhcpBooterDeps {
  /** Returns the fixed address of a system with this MAC, or null. */
  reservationFor(mac: string): Promise<Reservation | null>;
  /** Called when a PXE/iPXE client was answered (the lifecycle's `pxe` event). */
  onPxe?(client: DhcpClientInfo, answer: BootAnswer): void;
  /** Loaders on this host: a client whose file is missing gets no boot offer (all present when absent). */
  loaders?: LoaderCatalog;
  /** Where the missing-loader line goes (at most once per architecture and file per interval). */
  log?: Logger;
  clock?: () => number;
  missingLogIntervalMs?: number;
}

export const DEFAULT_BOOT_FILES: BootFiles = { bios: 'pxelinux.0', biosIpxe: 'undionly.kpxe', efi64: 'ipxe.efi', efi32: 'ipxe.efi', arm64: 'grubaa64.efi', efi64Http: 'ipxe.efi' };
export const DEFAULT_IPXE_SCRIPT_PATH = '/boot.ipxe?mac={mac}';
export const DEFAULT_LOADER_PATH = '/boot/{file}';
/** How often the same missing loader is logged again. */
export const DEFAULT_MISSING_LOG_INTERVAL_MS = 10 * 60_000;

/** x64 UEFI boot file over TFTP per EfiLoader setting. */
export const EFI64_LOADERS: Readonly<Record<EfiLoader, string>> = { ipxe: 'ipxe.efi', snponly: 'snponly.efi', shim: 'shimx64.efi', grub: 'grubx64.efi' };
/** Boot files that are iPXE: a client already running iPXE must never be handed one (chain-load loop). */
export const IPXE_BINARIES: ReadonlySet<string> = new Set(['undionly.kpxe', 'ipxe.efi', 'snponly.efi', 'ipxe.pxe']);

/** RFC 4578 / IANA processor architecture types kickstand boots. */
export const Arch = { BIOS: 0, EFI_IA32: 6, EFI_BC: 7, EFI_X64: 9, EFI_ARM64: 0x0b, EFI_IA32_HTTP: 0x0f, EFI_X64_HTTP: 0x10, EFI_ARM64_HTTP: 0x13 } as const;
/** Names of the architectures, for log lines. */
export const ARCH_NAMES: Readonly<Record<number, string>> = { 0: 'BIOS', 6: 'IA32 UEFI', 7: 'x64 UEFI', 9: 'x64 UEFI', 0x0b: 'ARM64 UEFI', 0x0f: 'IA32 UEFI HTTP Boot', 0x10: 'x64 UEFI HTTP Boot', 0x13: 'ARM64 UEFI HTTP Boot' };

/** A boot decision: an answer, a file this host lacks, or nothing for this architecture. */
export type BootPlan = { answer: BootAnswer } | { missing: string } | null;

/** Returns the boot plan of a client under config; `has` says which files this host can serve. */
export function planBoot(config: DhcpBooterConfig, client: DhcpClientInfo, has: (name: string) => boolean = () => true): BootPlan {
  const efiLoader = config.efiLoader ?? 'ipxe';
  const files = { ...DEFAULT_BOOT_FILES, efi64: EFI64_LOADERS[efiLoader], arm64: efiLoader === 'shim' ? 'shimaa64.efi' : 'grubaa64.efi', efi64Http: efiLoader === 'snponly' ? 'snponly.efi' : 'ipxe.efi', ...config.files };
  const base = config.httpBase.replace(/\/+$/, '');
  const script = (): BootPlan => {
    const path = (config.ipxeScriptPath ?? DEFAULT_IPXE_SCRIPT_PATH).replace('{mac}', client.mac);
    return { answer: { bootFile: `${base}${path.startsWith('/') ? '' : '/'}${path}`, nextServer: config.tftpServer } };
  };
  // UEFI PXE (EDK2) takes a file offered without option 60 as it is; offered with "PXEClient" it
  // first asks a boot server on port 4011, which full mode does not run (seen as PXE-E16 in OVMF).
  const uefi = client.arch !== null && client.arch !== Arch.BIOS;
  const tftp = (file: string): BootPlan => (has(file) ? { answer: { bootFile: file, nextServer: config.tftpServer, ...(uefi ? { vendorClass: null } : {}) } } : { missing: file });
  const http = (file: string): BootPlan => {
    if (!has(file)) return { missing: file };
    const path = (config.loaderPath ?? DEFAULT_LOADER_PATH).replace('{file}', file);
    return { answer: { bootFile: `${base}${path.startsWith('/') ? '' : '/'}${path}`, vendorClass: 'HTTPClient' } };
  };
  let plain: string | null;
  switch (client.arch) {
    case null:
    case Arch.BIOS:
      plain = config.ipxeChain ? files.biosIpxe : files.bios;
      break;
    case Arch.EFI_BC:
    case Arch.EFI_X64:
      plain = files.efi64;
      break;
    case Arch.EFI_IA32:
      plain = files.efi32;
      break;
    case Arch.EFI_ARM64:
      plain = files.arm64;
      break;
    case Arch.EFI_X64_HTTP:
    case Arch.EFI_IA32_HTTP:
    case Arch.EFI_ARM64_HTTP:
      // An iPXE that booted by HTTP Boot asks again as itself (user class iPXE): give it its script.
      if (client.isIpxe) return script();
      return http(client.arch === Arch.EFI_ARM64_HTTP ? files.arm64 : client.arch === Arch.EFI_X64_HTTP ? files.efi64Http : files.efi32);
    default:
      return null;
  }
  // A client already running iPXE gets its script, never an iPXE binary again (chain-load loop);
  // with ipxeClients 'pxe' it goes down the plain path when that path is not iPXE itself.
  if (client.isIpxe && ((config.ipxeClients ?? 'script') === 'script' || IPXE_BINARIES.has(plain))) return script();
  return tftp(plain);
}

/** Returns the boot answer for a client under config, or null when its architecture has no boot file. */
export function chooseBoot(config: DhcpBooterConfig, client: DhcpClientInfo, has?: (name: string) => boolean): BootAnswer | null {
  const plan = planBoot(config, client, has);
  return plan && 'answer' in plan ? plan.answer : null;
}

/** Returns a DhcpBooter that answers from config and looks reservations up through deps. */
export function createDhcpBooter(config: DhcpBooterConfig, deps: DhcpBooterDeps): DhcpBooter {
  const clock = deps.clock ?? Date.now;
  const interval = deps.missingLogIntervalMs ?? DEFAULT_MISSING_LOG_INTERVAL_MS;
  const lastLogged = new Map<string, number>();
  const has = deps.loaders ? (name: string) => deps.loaders!.has(name) : undefined;
  return {
    async bootFor(client) {
      const plan = planBoot(config, client, has);
      if (plan && 'missing' in plan) {
        const key = `${client.arch}|${plan.missing}`;
        const now = clock();
        if (deps.log && now - (lastLogged.get(key) ?? -Infinity) >= interval) {
          lastLogged.set(key, now);
          const pkg = deps.loaders?.packageOf(plan.missing);
          const arch = `${ARCH_NAMES[client.arch ?? 0] ?? 'unknown'} clients (arch ${client.arch ?? 0})`;
          deps.log.warn({ mac: client.mac, arch: client.arch, file: plan.missing }, `no boot offer for ${arch}: ${plan.missing} is not on this host${pkg ? `; install the Debian package ${pkg}` : ''}`);
        }
        return null;
      }
      return plan?.answer ?? null;
    },
    reservationFor: (mac) => deps.reservationFor(mac),
    onPxe: deps.onPxe ? (client, answer) => deps.onPxe!(client, answer) : undefined,
  };
}
