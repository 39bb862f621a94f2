// Decodes an image file into tightly packed RGB8 for the engine, with sharp (libvips).
// - EXIF orientation is applied (.rotate()), so a phone's portrait photo is upright.
// - A pixel limit refuses decompression bombs before any pixel is decoded.
// - Transparency is composited onto white, as transformers' convert_to_rgb does.
// - Animated GIF/WebP: the first frame only.
// - The image is scaled down (never up) so its longest side is at most `maxSide`; the engine's
//   own smart resize (multiples of 28 px within the pixel budget) comes after.
// Failures carry codes the UI can explain: IMAGE_NOT_FOUND, IMAGE_UNSUPPORTED,
// IMAGE_TOO_LARGE, IMAGE_CORRUPT.
import { stat } from 'node:fs/promises';
import sharp from 'sharp';

export type ImageErrorCode = 'IMAGE_NOT_FOUND' | 'IMAGE_UNSUPPORTED' | 'IMAGE_TOO_LARGE' | 'IMAGE_CORRUPT';

export class ImageError extends Error {
  constructor(readonly code: ImageErrorCode, message: string) {
    super(message);
    this.name = 'ImageError';
  }
}

/** Formats we accept, as sharp names them (AVIF is reported as "heif"). */
const ACCEPTED = new Set(['jpeg', 'png', 'webp', 'heif', 'tiff', 'gif']);

/** Default pixel limit: 100 megapixels (a 12000x8000 photo passes; a 50000x50000 bomb does not). */
export const DEFAULT_PIXEL_LIMIT = 100_000_000;
/** Files larger than this are refused before decoding (no real photo needs more). */
export const MAX_FILE_BYTES = 512 * 1024 * 1024;

export interface DecodeOptions {
  /** Longest side after our resize; absent = keep the decoded size. */
  maxSide?: number;
  /** Refuse images with more pixels than this (width x height of the source). */
  pixelLimit?: number;
}

export interface DecodedImage {
  rgb: Uint8Array;
  width: number;
  height: number;
  /** The size after EXIF orientation, before our resize. */
  sourceWidth: number;
  sourceHeight: number;
  format: string;
}

function classify(error: unknown, path: string): ImageError {
  const message = error instanceof Error ? error.message : String(error);
  if (/pixel limit/i.test(message)) return new ImageError('IMAGE_TOO_LARGE', `${path}: the image has more pixels than allowed (${message})`);
  if (/unsupported image format|no decode|is not a known/i.test(message)) return new ImageError('IMAGE_UNSUPPORTED', `${path}: not an image format Kotaro can read (${message})`);
  return new ImageError('IMAGE_CORRUPT', `${path}: the image could not be decoded (${message})`);
}

export async function decodeImageFile(path: string, options: DecodeOptions = {}): Promise<DecodedImage> {
  const pixelLimit = options.pixelLimit ?? DEFAULT_PIXEL_LIMIT;
  let size: number;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new ImageError('IMAGE_UNSUPPORTED', `${path} is not a file`);
    size = st.size;
  } catch (error) {
    if (error instanceof ImageError) throw error;
    throw new ImageError('IMAGE_NOT_FOUND', `${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  if (size === 0) throw new ImageError('IMAGE_CORRUPT', `${path}: the file is empty`);
  if (size > MAX_FILE_BYTES) throw new ImageError('IMAGE_TOO_LARGE', `${path}: the file is ${size} bytes (more than ${MAX_FILE_BYTES})`);

  // page 0 / pages 1: the first frame of an animation.
  const input = () => sharp(path, { limitInputPixels: pixelLimit, failOn: 'error', page: 0, pages: 1, sequentialRead: true });
  let meta: Awaited<ReturnType<ReturnType<typeof sharp>['metadata']>>;
  try {
    meta = await input().metadata();
  } catch (error) {
    throw classify(error, path);
  }
  if (!meta.format || !ACCEPTED.has(meta.format)) {
    throw new ImageError('IMAGE_UNSUPPORTED', `${path}: ${meta.format ?? 'unknown'} images are not supported (JPEG, PNG, WebP, AVIF, TIFF, GIF are)`);
  }
  if (!meta.width || !meta.height) throw new ImageError('IMAGE_CORRUPT', `${path}: the image has no size`);
  if (meta.width * meta.height > pixelLimit) {
    throw new ImageError('IMAGE_TOO_LARGE', `${path}: ${meta.width}x${meta.height} is more than ${pixelLimit} pixels`);
  }
  // EXIF orientations 5..8 swap width and height.
  const swapped = (meta.orientation ?? 1) >= 5;
  const sourceWidth = swapped ? meta.height : meta.width;
  const sourceHeight = swapped ? meta.width : meta.height;

  let pipeline = input().rotate().flatten({ background: { r: 255, g: 255, b: 255 } }).toColourspace('srgb');
  const maxSide = options.maxSide;
  if (maxSide !== undefined && Math.max(sourceWidth, sourceHeight) > maxSide) {
    pipeline = pipeline.resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true, kernel: 'lanczos3' });
  }
  try {
    const { data, info } = await pipeline.removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || data.length !== info.width * info.height * 3) {
      throw new ImageError('IMAGE_CORRUPT', `${path}: decoded to ${info.channels} channels, expected RGB`);
    }
    return {
      rgb: new Uint8Array(data.buffer, data.byteOffset, data.length),
      width: info.width,
      height: info.height,
      sourceWidth,
      sourceHeight,
      format: meta.format === 'heif' ? 'avif' : meta.format,
    };
  } catch (error) {
    if (error instanceof ImageError) throw error;
    throw classify(error, path);
  }
}
