// Renders kickstand's own install script for the e2e guest in-process, the way `kickstand render
// install` does (profile registry + artifact renderer over templates/), so the stand-in can serve
// the real template before `kickstand serve` runs end to end: a failure then points at the
// template, not at DHCP, TFTP or HTTP.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Artifacts } from '../../server/boot/artifacts.ts';
import { loadArtifactRenderer } from '../../server/boot/renderer.ts';
import { silentLogger } from '../../server/log.ts';
import { ProfileRegistry } from '../../server/profiles/registry.ts';
import type { System } from '../../server/store/types.ts';
import { REPO_ROOT } from './build/artifacts.ts';
import { kickstandProfiles, PROFILE_NAME, SYSTEM_NAME } from './kickstand-server.ts';
import type { E2eProfile } from './server-under-test.ts';

/** Renders install scripts of the e2e guest from templates/ and the e2e profile. */
export interface KickstandScriptRenderer {
  /** Returns the install script for an armed run with this token, URLs under base. */
  install(token: string, base: string): string;
}

/** Returns a renderer over the repository's templates and the e2e profile written into dir/profiles. */
export async function kickstandScriptRenderer(dir: string, profile: E2eProfile, mac: string): Promise<KickstandScriptRenderer> {
  const profiles = join(dir, 'profiles');
  mkdirSync(profiles, { recursive: true });
  for (const [file, body] of Object.entries(kickstandProfiles(profile))) {
    writeFileSync(join(profiles, file), JSON.stringify(body, null, 2) + '\n');
  }
  const log = silentLogger();
  const artifacts = new Artifacts(new ProfileRegistry(profiles, log), await loadArtifactRenderer(join(REPO_ROOT, 'templates'), log));
  return {
    install(token, base) {
      const now = Date.now();
      const system: System = {
        name: SYSTEM_NAME,
        displayName: null,
        macs: [mac.toLowerCase()],
        ip: null,
        hostname: null,
        profile: PROFILE_NAME,
        overrides: {},
        build: true,
        state: 'build',
        stage: null,
        run: 1,
        token,
        tokenExpiresAt: now + 3_600_000,
        createdAt: now,
        updatedAt: now,
        stateChangedAt: now,
        lastEventAt: null,
      };
      return artifacts.render('install', system, base);
    },
  };
}
