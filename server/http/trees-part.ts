// Install trees over HTTP: the trees handler over DistroMedia, so YAML distro names and
// ISO-detected names both resolve to the right image.
import type { Logger } from '../log.ts';
import { createTreesHandler, splitTreeUrl } from './trees.ts';
import type { TreeHandler } from './boot-routes.ts';
import type { DistroMedia } from '../boot/distro-media.ts';

/** Returns the /trees/<distro>/<path> handler for the lean HTTP path. */
export function serveTrees(media: DistroMedia, log: Logger): TreeHandler {
  const handler = createTreesHandler({ catalog: media, log });
  return async (req, res, distro) => {
    // The handler needs the raw path with its leading slash (to tell "/trees/x" from "/trees/x/").
    const split = splitTreeUrl(req.url ?? '');
    await handler(req, res, distro, split?.path ?? '');
  };
}
