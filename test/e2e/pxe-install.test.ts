// End to end (issue 5): a QEMU guest (TCG, iPXE ROM from ipxe-qemu, Debian kernel) PXE-boots in
// a private network namespace, installs itself onto two IDE disks (CHS partition, ext3, swap,
// stock kernel, GRUB legacy in the MBR) reporting each step, boots from its own disk and reports
// `booted`, is reinstalled after its MBR is wiped, and PXE-boots into its disk through the
// local-boot menu. The boots and checks live in suite.ts; this file picks the servers.
//
// Servers (KICKSTAND_E2E_SERVERS, comma-separated, default `kickstand,standin`):
//   standin    dnsmasq (DHCP + TFTP, Debian pxelinux) and standin-http.ts serving the draft
//              install script (guest/draft-install.sh): proves the guest side alone.
//   rendered   the same stand-in serving kickstand's install script rendered in-process from
//              templates/ (render-kickstand.ts): proves the real template on the real guest.
//   kickstand  `kickstand serve` with DHCP in full mode, TFTP and HTTP, rendering the real script.
// Run as root: `npm run test:e2e`. KICKSTAND_E2E_KEEP=1 keeps the logs of passing runs too (they
// are always kept under artifacts/e2e/ on failure); KICKSTAND_E2E_ACCEL=kvm uses KVM where it exists.
import { skipUnlessRoot } from '../system/lib/apt.ts';
import { KICKSTAND_PACKAGES, startKickstand } from './kickstand-server.ts';
import { STANDIN_PACKAGES, startStandin, startStandinRendered } from './standin.ts';
import { defineInstallSuite } from './suite.ts';

const servers = new Set((process.env.KICKSTAND_E2E_SERVERS ?? 'kickstand,standin').split(',').map((s) => s.trim()));
const needsRoot = skipUnlessRoot('needs root (namespaces, tap device, apt)');

defineInstallSuite({
  title: 'e2e with kickstand (DHCP full mode, TFTP, HTTP, rendered install script)',
  name: 'kickstand',
  skip: needsRoot || (servers.has('kickstand') ? false : 'kickstand not in KICKSTAND_E2E_SERVERS'),
  packages: KICKSTAND_PACKAGES,
  start: startKickstand,
});

defineInstallSuite({
  title: 'e2e with the stand-in server (dnsmasq + static HTTP + draft install script)',
  name: 'standin',
  skip: needsRoot || (servers.has('standin') ? false : 'standin not in KICKSTAND_E2E_SERVERS'),
  packages: STANDIN_PACKAGES,
  start: startStandin,
});

defineInstallSuite({
  title: 'e2e with the stand-in serving kickstand\'s rendered install script (templates/install.sh.hbs)',
  name: 'rendered',
  skip: needsRoot || (servers.has('rendered') ? false : 'rendered not in KICKSTAND_E2E_SERVERS'),
  packages: STANDIN_PACKAGES,
  start: startStandinRendered,
});
