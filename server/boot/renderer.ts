// Adapts the render module (templates + context) to what the boot path asks of a renderer.
import type { Logger } from '../log.ts';
import { buildContext } from '../render/context.ts';
import type { SiteNetwork } from '../render/network.ts';
import { loadRenderer, type Renderer } from '../render/renderer.ts';
import type { ArtifactInput, ArtifactKind, ArtifactRenderer } from './artifacts.ts';

/** What renders take from the site configuration. */
export interface RenderSite {
  /** The DHCP subnet (dhcp.subnet): static network lines take its mask, router and DNS servers. */
  subnet?: SiteNetwork | null;
}

/** Returns an ArtifactRenderer over a loaded template renderer. */
export function artifactRenderer(r: Renderer, site: RenderSite = {}): ArtifactRenderer {
  return {
    render(kind: ArtifactKind, i: ArtifactInput): string {
      const ctx = buildContext({ system: i.system, profile: i.profile, distro: i.distro, urls: { base: i.base }, token: i.token, bootMac: i.bootMac, site: site.subnet });
      return r.render(kind, ctx);
    },
    renderDefault(kind, base) {
      return r.renderGlobal(kind === 'pxelinux' ? 'pxelinux-default' : kind === 'grub' ? 'grub-default' : 'ipxe-default', { urls: { base } });
    },
    renderEntry(base) {
      return r.renderGlobal('boot-ipxe', { urls: { base } });
    },
    renderGrubEntry(base) {
      return r.renderGlobal('grub-entry', { urls: { base } });
    },
  };
}

/** Loads every template under templatesDir (a template error stops start-up) and adapts it; parseCacheFile keeps parsed templates between starts. */
export async function loadArtifactRenderer(templatesDir: string, log: Logger, site: RenderSite = {}, parseCacheFile?: string): Promise<ArtifactRenderer> {
  return artifactRenderer(await loadRenderer({ templatesDir, log, parseCacheFile }), site);
}
