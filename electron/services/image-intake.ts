// What the host learns about a dropped image before the worker sees it: that it exists and is a
// file of sane size, its sha256 (history can tell the same photo analysed twice), its format and
// size in pixels, and a small JPEG thumbnail for the list. Decoding the thumbnail reads the
// whole image, so a truncated or corrupt file is caught here with a clear code instead of
// deep inside the worker. The worker decodes again with its own limits: main never sends pixels.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import sharp from 'sharp';
import { ServiceError } from './service-error.js';

/** Files above this are refused before reading (the same cap as `kotaro serve` uploads). */
export const MAX_IMAGE_BYTES = 200 * 1024 * 1024;
/** Decompression-bomb guard: a 100 MP photo is already far beyond what the model looks at. */
export const MAX_IMAGE_PIXELS = 100_000_000;
export const THUMBNAIL_SIDE = 160;
/** Formats the prebuilt sharp decodes and the worker accepts. SVG is refused: it is a document, not a photo. */
export const SUPPORTED_FORMATS = ['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif'] as const;

export interface ImageFacts {
  sha256: string;
  bytes: number;
  format: string;
  width: number;
  height: number;
  /** data:image/jpeg;base64,… */
  thumbnail: string;
}

function hashFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** Maps what sharp/libvips says to one of our codes. */
function classifySharpError(path: string, error: unknown): ServiceError {
  const message = error instanceof Error ? error.message : String(error);
  if (/exceeds pixel limit/i.test(message)) {
    return new ServiceError('IMAGE_TOO_LARGE', `${path}: the image has more than ${MAX_IMAGE_PIXELS / 1e6} megapixels`);
  }
  if (/unsupported image format/i.test(message)) {
    return new ServiceError('IMAGE_UNSUPPORTED', `${path}: not an image format Kotaro reads (${SUPPORTED_FORMATS.join(', ')})`);
  }
  if (/missing|no such file/i.test(message)) return new ServiceError('IMAGE_NOT_FOUND', `${path}: the file does not exist`);
  if (/heif|hevc|heic/i.test(message)) {
    return new ServiceError('IMAGE_UNSUPPORTED', `${path}: HEIC photos cannot be decoded here (convert it to JPEG first)`);
  }
  return new ServiceError('IMAGE_CORRUPT', `${path}: the image is damaged or truncated (${message})`);
}

export async function inspectImage(path: string): Promise<ImageFacts> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new ServiceError('IMAGE_NOT_FOUND', `${path}: the file does not exist`);
    if (code === 'EACCES' || code === 'EPERM') throw new ServiceError('IMAGE_UNREADABLE', `${path}: permission denied`);
    throw new ServiceError('IMAGE_UNREADABLE', `${path}: ${(error as Error).message}`);
  }
  if (!info.isFile()) throw new ServiceError('IMAGE_NOT_A_FILE', `${path}: not a file`);
  if (info.size === 0) throw new ServiceError('IMAGE_CORRUPT', `${path}: the file is empty`);
  if (info.size > MAX_IMAGE_BYTES) {
    throw new ServiceError('IMAGE_TOO_LARGE', `${path}: the file is ${(info.size / 2 ** 20).toFixed(0)} MiB, more than ${MAX_IMAGE_BYTES / 2 ** 20} MiB`);
  }
  const options = { failOn: 'error', limitInputPixels: MAX_IMAGE_PIXELS, autoOrient: true } as const;
  let meta;
  try {
    meta = await sharp(path, options).metadata();
  } catch (error) {
    throw classifySharpError(path, error);
  }
  const format = meta.format ?? 'unknown';
  if (!(SUPPORTED_FORMATS as readonly string[]).includes(format)) {
    const what = format === 'heif' ? 'HEIC/HEIF photos cannot be decoded here (convert it to JPEG first)' : `${format} is not an image format Kotaro reads (${SUPPORTED_FORMATS.join(', ')})`;
    throw new ServiceError('IMAGE_UNSUPPORTED', `${path}: ${what}`);
  }
  const width = meta.autoOrient?.width ?? meta.width ?? 0;
  const height = meta.autoOrient?.height ?? meta.height ?? 0;
  if (width < 1 || height < 1) throw new ServiceError('IMAGE_CORRUPT', `${path}: the image has no pixels`);
  let jpeg: Buffer;
  try {
    jpeg = await sharp(path, options)
      .resize(THUMBNAIL_SIDE, THUMBNAIL_SIDE, { fit: 'inside', withoutEnlargement: true })
      .flatten({ background: '#ffffff' })
      .jpeg({ quality: 70 })
      .toBuffer();
  } catch (error) {
    throw classifySharpError(path, error);
  }
  return {
    sha256: await hashFile(path),
    bytes: info.size,
    format,
    width,
    height,
    thumbnail: `data:image/jpeg;base64,${jpeg.toString('base64')}`,
  };
}
