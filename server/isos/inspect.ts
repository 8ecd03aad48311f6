// One image looked at in full, for `kickstand iso inspect FILE` and `iso list`: its volume, boot
// catalog and detected distro, or why it could not be read, without throwing for a bad image.
import { basename } from 'node:path';
import { KickstandError } from '../errors.ts';
import { detectDistro, type DetectedDistro } from './detect.ts';
import { openImageFile } from './image-file.ts';
import { openIso } from './reader.ts';
import type { BootCatalog, IsoReaderOptions, VolumeInfo } from './types.ts';

/** What inspecting one image found; `error` is set (and the rest may be missing) when it is unreadable. */
export interface IsoInspection {
  readonly path: string;
  readonly size: number;
  readonly volume?: VolumeInfo;
  readonly boot?: BootCatalog | null;
  readonly distro?: DetectedDistro;
  readonly error?: string;
}

/** Returns what the image file at `path` holds; malformed images come back with `error`, not as a throw. */
export async function inspectIsoFile(path: string, options: IsoReaderOptions = {}): Promise<IsoInspection> {
  let size = 0;
  let image: Awaited<ReturnType<typeof openImageFile>> | undefined;
  try {
    image = await openImageFile(path);
    size = image.size;
    const reader = await openIso(image, options);
    const distro = await detectDistro(reader, { volumeId: reader.volume.volumeId, fileName: basename(path) });
    const boot = await reader.bootCatalog().catch((err: Error) => {
      distro.reasons.push(`boot catalog unreadable: ${err.message}`);
      return null;
    });
    return { path, size, volume: reader.volume, boot, distro };
  } catch (err) {
    if (!(err instanceof KickstandError) && typeof (err as NodeJS.ErrnoException).code !== 'string') throw err; // bugs still throw
    return { path, size, error: (err as Error).message };
  } finally {
    await image?.close?.();
  }
}
