// The DHCP booter: picks a boot file by client architecture (RFC 4578 section 2.1) and what the
// client already runs, and looks up reservations. It knows nothing of sockets; the store lookup
// and the lifecycle hook are injected so tests run it with fakes.
import type { BootAnswer, DhcpBooter, Reservation } from '../dhcp/booter.ts';
import type { DhcpClientInfo } from '../dhcp/client-info.ts';

/** Boot file names served over TFTP, per firmware. */
export interface BootFiles {
  /** BIOS PXE, no iPXE chaining (default pxelinux.0). */
  bios: string;
  /** BIOS PXE chaining into iPXE (default undionly.kpxe). */
  biosIpxe: string;
  /** EFI x64 (93 = 7 or 9), default ipxe.efi. */
  efi64: string;
  /** EFI IA32 (93 = 6), default ipxe.efi. */
  efi32: string;
}

export interface DhcpBooterConfig {
  /** TFTP server address (siaddr). */
  tftpServer: string;
  /** Base URL of kickstand's HTTP server, e.g. http://10.0.0.1:8080 (no trailing slash needed). */
  httpBase: string;
  /** BIOS clients chain-load iPXE (undionly.kpxe) instead of pxelinux.0. */
  ipxeChain: boolean;
  files?: Partial<BootFiles>;
  /** Path of the iPXE script on the HTTP server; `{mac}` is replaced by the client's MAC. */
  ipxeScriptPath?: string;
}

export interface DhcpBooterDeps {
  /** Returns the fixed address of a system with this MAC, or null. */
  reservationFor(mac: string): Promise<Reservation | null>;
  /** Called when a PXE/iPXE client was answered (the lifecycle's `pxe` event). */
  onPxe?(client: DhcpClientInfo, answer: BootAnswer): void;
}

export const DEFAULT_BOOT_FILES: BootFiles = { bios: 'pxelinux.0', biosIpxe: 'undionly.kpxe', efi64: 'ipxe.efi', efi32: 'ipxe.efi' };
export const DEFAULT_IPXE_SCRIPT_PATH = '/boot.ipxe?mac={mac}';

/** RFC 4578 / IANA processor architecture types kickstand boots. */
export const Arch = { BIOS: 0, EFI_IA32: 6, EFI_BC: 7, EFI_X64: 9, EFI_IA32_HTTP: 0x0f, EFI_X64_HTTP: 0x10 } as const;

/** Returns the boot answer for a client under config, or null when its architecture has no boot file. */
export function chooseBoot(config: DhcpBooterConfig, client: DhcpClientInfo): BootAnswer | null {
  const files = { ...DEFAULT_BOOT_FILES, ...config.files };
  const base = config.httpBase.replace(/\/+$/, '');
  // A client already running iPXE gets the script over HTTP, never the iPXE binary again (chain-load loop).
  if (client.isIpxe) {
    const path = (config.ipxeScriptPath ?? DEFAULT_IPXE_SCRIPT_PATH).replace('{mac}', client.mac);
    return { bootFile: `${base}${path.startsWith('/') ? '' : '/'}${path}`, nextServer: config.tftpServer };
  }
  const tftp = (bootFile: string): BootAnswer => ({ bootFile, nextServer: config.tftpServer });
  switch (client.arch) {
    case null:
    case Arch.BIOS:
      return tftp(config.ipxeChain ? files.biosIpxe : files.bios);
    case Arch.EFI_BC:
    case Arch.EFI_X64:
      return tftp(files.efi64);
    case Arch.EFI_IA32:
      return tftp(files.efi32);
    case Arch.EFI_X64_HTTP:
      return { bootFile: `${base}/${files.efi64}`, vendorClass: 'HTTPClient' };
    case Arch.EFI_IA32_HTTP:
      return { bootFile: `${base}/${files.efi32}`, vendorClass: 'HTTPClient' };
    default:
      return null;
  }
}

/** Returns a DhcpBooter that answers from config and looks reservations up through deps. */
export function createDhcpBooter(config: DhcpBooterConfig, deps: DhcpBooterDeps): DhcpBooter {
  return {
    bootFor: async (client) => chooseBoot(config, client),
    reservationFor: (mac) => deps.reservationFor(mac),
    onPxe: deps.onPxe ? (client, answer) => deps.onPxe!(client, answer) : undefined,
  };
}
