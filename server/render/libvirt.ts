// What a libvirt domain of a system is made of, derived from the same resolved profile data the xl
// config renders (the xen block, the disks and their images, the firmware): the bus each disk's
// name implies, the machine type the firmware needs, the boot order the power driver would write.
// Pure; templates/libvirt/domain.xml.hbs turns it into XML.
import { INSTALL_ORDER, INSTALLED_ORDER, type LibvirtBootDev } from '../power/libvirt-xml.ts';

/** Disk buses the domain uses: IDE (pc only), SATA (AHCI) and virtio. */
export type LibvirtBus = 'ide' | 'sata' | 'virtio';

/** One disk or CD-ROM of the domain: its backing (file or block device), target name and bus. */
export interface LibvirtDisk {
  type: 'file' | 'block';
  source: string;
  dev: string;
  bus: LibvirtBus;
}

/** The domain of a system, as domain.xml.hbs reads it. */
export interface LibvirtContext {
  name: string;
  memoryMib: number;
  vcpus: number;
  /** pc (i440fx) for BIOS; q35 for UEFI, which libvirt's Secure Boot firmware requires (with SMM). */
  machine: 'pc' | 'q35';
  /** UEFI through libvirt's firmware autoselection (`<os firmware='efi'>`), else SeaBIOS. */
  efi: boolean;
  secureBoot: boolean;
  /** `<boot dev>` order of `<os>`: the power driver's install order while armed, its disk once built. */
  boot: readonly LibvirtBootDev[];
  disks: LibvirtDisk[];
  cdrom: LibvirtDisk | null;
  nic: { mac: string | null; bridge: string; model: 'virtio' | 'e1000' };
  serial: boolean;
  vnc: { listen: string; password: string | null } | null;
  video: 'vga' | 'cirrus';
}

/** What the libvirt context is built from: the xen block as the render context holds it, and a few profile facts. */
export interface LibvirtInput {
  xen: {
    name: string; memory: number; vcpus: number; bridge: string; mac: string | null; backend: 'file' | 'phy'; cdrom: string | null;
    vnc: { enabled: boolean; listen: string; password: string | null }; serial: string; stdvga: boolean;
  };
  disks: ReadonlyArray<{ name: string; image: string }>;
  efi: boolean;
  secureBoot: boolean;
  /** True while the install boot order applies (as for xl: armed, or not built yet). */
  installing: boolean;
  /** The profile's power.boot: the CD route boots the CD first when one is attached. */
  bootDevice: 'network' | 'cd';
}

/** Returns why a profile's disks cannot be a libvirt domain's, or null: xvd* names Xen PV disks, which QEMU has none of. */
export function libvirtDisksProblem(disks: ReadonlyArray<{ name: string }>): string | null {
  const xvd = disks.find((d) => d.name.startsWith('xvd'));
  return xvd ? `disk ${xvd.name} is a Xen PV disk name; a libvirt (QEMU) domain has hd* (IDE), sd* (SATA) or vd* (virtio) disks` : null;
}

/** Returns the bus a disk name implies on a machine type: hd* IDE (SATA on q35, which has no IDE), sd* SATA, vd* virtio. */
export function busOf(name: string, machine: 'pc' | 'q35'): LibvirtBus {
  if (name.startsWith('vd')) return 'virtio';
  if (name.startsWith('hd') && machine === 'pc') return 'ide';
  return 'sata';
}

/** Returns the index libvirt derives a drive address from (hda 0, sdc 2). */
const indexOf = (dev: string): number => dev.charCodeAt(dev.length - 1) - 97;

/**
 * Returns the CD-ROM's target: hdc on IDE as in the Xen configs (check.ts keeps hdc free); on q35
 * a SATA name whose unit no SATA disk takes (libvirt places a drive by its name's letter).
 */
function cdromDev(disks: LibvirtDisk[], machine: 'pc' | 'q35'): { dev: string; bus: LibvirtBus } {
  if (machine === 'pc') return { dev: 'hdc', bus: 'ide' };
  const taken = new Set(disks.filter((d) => d.bus === 'sata').map((d) => indexOf(d.dev)));
  let i = 2;
  while (taken.has(i)) i++;
  return { dev: `sd${String.fromCharCode(97 + i)}`, bus: 'sata' };
}

/** Returns the libvirt domain of a system. */
export function libvirtContext(input: LibvirtInput): LibvirtContext {
  const { xen } = input;
  const machine = input.efi ? 'q35' : 'pc';
  const type = xen.backend === 'phy' ? 'block' : 'file';
  const disks: LibvirtDisk[] = input.disks.map((d) => ({ type, source: d.image, dev: d.name, bus: busOf(d.name, machine) }));
  const cdrom: LibvirtDisk | null = xen.cdrom ? { type: 'file', source: xen.cdrom, ...cdromDev(disks, machine) } : null;
  const installOrder = INSTALL_ORDER[input.bootDevice === 'cd' && cdrom ? 'cd' : 'network'];
  return {
    name: xen.name,
    memoryMib: xen.memory,
    vcpus: xen.vcpus,
    machine,
    efi: input.efi,
    secureBoot: input.efi && input.secureBoot,
    boot: input.installing ? installOrder : INSTALLED_ORDER,
    disks,
    cdrom,
    // A guest on virtio disks has virtio drivers; older guests (the notes' CentOS 4) know the e1000.
    nic: { mac: xen.mac, bridge: xen.bridge, model: disks[0]?.bus === 'virtio' ? 'virtio' : 'e1000' },
    serial: xen.serial === 'pty',
    vnc: xen.vnc.enabled ? { listen: xen.vnc.listen, password: xen.vnc.password } : null,
    // OVMF draws through its VGA (bochs) driver; xl's stdvga = 0 is the Cirrus card.
    video: xen.stdvga || input.efi ? 'vga' : 'cirrus',
  };
}
