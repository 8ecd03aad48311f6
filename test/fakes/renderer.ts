// A deterministic ArtifactRenderer for HTTP and lifecycle tests: shows which system, token and
// kind were rendered so tests can assert the boot path wiring without depending on templates.
import type { ArtifactInput, ArtifactKind, ArtifactRenderer } from '../../server/boot/artifacts.ts';

/** Returns a renderer whose output names the kind, system, token and base URL. */
export function fakeRenderer(): ArtifactRenderer & { calls: number } {
  const r = {
    calls: 0,
    render(kind: ArtifactKind, i: ArtifactInput): string {
      r.calls++;
      if (kind === 'pxelinux' || kind === 'ipxe' || kind === 'grub') {
        // The booting MAC shows only when it is not the first (the templates' BOOTIF default).
        const bootif = i.bootMac ? ` bootif ${i.bootMac}` : '';
        return i.token ? `${kind} install ${i.system.name} ${i.base}/ks/${i.token}${bootif}\n` : `${kind} localboot ${i.system.name}${bootif}\n`;
      }
      return `# ${kind} for ${i.system.name} (profile ${i.profile.name}, distro ${i.distro.name})\n# events ${i.base}/events/${i.token ?? 'none'}\n`;
    },
    renderDefault(kind: 'pxelinux' | 'ipxe' | 'grub'): string {
      return `${kind} localboot default\n`;
    },
    renderEntry(base: string): string {
      return `#!ipxe\nchain ${base}/ipxe/\${net0/mac}\n`;
    },
    renderGrubEntry(): string {
      return 'grub entry: configfile $prefix/grub.cfg-01-<mac>\n';
    },
  };
  return r;
}
