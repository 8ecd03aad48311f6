// Where the resolved profile set is kept between runs: beside the database in the data folder, and
// only for a compiled build (a build id), so source checkouts always read their YAML.
import { join } from 'node:path';
import type { ProfileCache } from './load.ts';

/** Returns the profile cache of a data folder under the build id, or null when there is no build id. */
export function profileCache(config: { data_dir: string }, buildId: string | null): ProfileCache | null {
  return buildId ? { file: join(config.data_dir, 'cache', 'profiles.json'), key: buildId } : null;
}
