// Image decoding for the engine: formats, EXIF orientation, transparency, animation, resize,
// and the error codes for missing, unsupported, oversized and corrupt files.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { decodeImageFile, ImageError } from '../../gpu-worker/image/decode-image.js';
import { fixturesRoot } from '../helpers/paths.js';
import { scratch } from '../engine/helpers.js';

const tmp = scratch('images');
afterAll(() => tmp.remove());
const file = (name: string) => join(tmp.dir, name);

/** A w×h image: left half red, right half blue (so orientation is visible in the pixels). */
function halves(w: number, h: number): Buffer {
  const b = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) b.set(x < w / 2 ? [255, 0, 0] : [0, 0, 255], (y * w + x) * 3);
  return b;
}
const raw = (w: number, h: number, channels: 3 | 4 = 3) => ({ raw: { width: w, height: h, channels } });

/** A PNG whose header claims width×height, with a tiny (wrong) body: what a bomb's header looks like. */
function pngHeaderOnly(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(10))), chunk('IEND', Buffer.alloc(0))]);
}

beforeAll(async () => {
  const img = () => sharp(halves(40, 20), raw(40, 20));
  await img().jpeg({ quality: 95 }).toFile(file('plain.jpg'));
  // Stored landscape, EXIF says "rotate 90° clockwise to display" (orientation 6).
  await img().jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toFile(file('rotated.jpg'));
  await img().webp({ lossless: true }).toFile(file('x.webp'));
  await img().avif({ lossless: true }).toFile(file('x.avif'));
  await img().tiff().toFile(file('x.tiff'));
  // Fully transparent pixels of a red image: must come out white, as transformers composites.
  const rgba = Buffer.alloc(4 * 4 * 4);
  for (let i = 0; i < 16; i++) rgba.set([255, 0, 0, i < 8 ? 0 : 255], i * 4);
  await sharp(rgba, raw(4, 4, 4)).png().toFile(file('alpha.png'));
  // A two-frame GIF: red then blue. Only the first frame is read.
  const frames = Buffer.concat([Buffer.alloc(8 * 8 * 4, 0), Buffer.alloc(8 * 8 * 4, 0)]);
  for (let i = 0; i < 64; i++) {
    frames.set([255, 0, 0, 255], i * 4);
    frames.set([0, 0, 255, 255], 256 + i * 4);
  }
  await sharp(frames, { raw: { width: 8, height: 16, channels: 4, pageHeight: 8 } } as never).gif({ loop: 0 }).toFile(file('anim.gif'));
  await sharp(halves(400, 100), raw(400, 100)).png().toFile(file('wide.png'));
  writeFileSync(file('bomb.png'), pngHeaderOnly(60000, 60000));
  writeFileSync(file('notes.txt'), 'just some text, not an image\n');
  writeFileSync(file('empty.png'), '');
  writeFileSync(file('x.svg'), '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>');
  const png = await sharp(halves(64, 64), raw(64, 64)).png({ compressionLevel: 0 }).toBuffer();
  writeFileSync(file('truncated.png'), png.subarray(0, png.length - 6000));
});

const pixel = (img: { rgb: Uint8Array; width: number }, x: number, y: number) => Array.from(img.rgb.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));

describe('decodeImageFile', () => {
  it('decodes the fixture PNG exactly', async () => {
    const img = await decodeImageFile(join(fixturesRoot, 'tiny-qwen25vl-a', 'images', 'shapes_200x150.png'));
    expect(img).toMatchObject({ width: 200, height: 150, format: 'png' });
    const ref = await sharp(join(fixturesRoot, 'tiny-qwen25vl-a', 'images', 'shapes_200x150.png')).removeAlpha().raw().toBuffer();
    expect(Buffer.from(img.rgb).equals(ref)).toBe(true);
  });

  it.each(['plain.jpg', 'x.webp', 'x.avif', 'x.tiff'])('reads %s as RGB', async (name) => {
    const img = await decodeImageFile(file(name));
    expect(img.width).toBe(40);
    expect(img.height).toBe(20);
    expect(img.rgb).toHaveLength(40 * 20 * 3);
    const [r, , b] = pixel(img, 5, 10);
    expect(r).toBeGreaterThan(200);
    expect(b).toBeLessThan(60);
  });

  it('applies the EXIF orientation', async () => {
    const img = await decodeImageFile(file('rotated.jpg'));
    expect([img.width, img.height]).toEqual([20, 40]);
    expect([img.sourceWidth, img.sourceHeight]).toEqual([20, 40]);
    // Rotated 90° clockwise: the left (red) half is now on top.
    expect(pixel(img, 10, 5)[0]).toBeGreaterThan(200);
    expect(pixel(img, 10, 35)[2]).toBeGreaterThan(200);
  });

  it('composites transparency onto white', async () => {
    const img = await decodeImageFile(file('alpha.png'));
    expect(pixel(img, 0, 0)).toEqual([255, 255, 255]);
    expect(pixel(img, 0, 3)).toEqual([255, 0, 0]);
  });

  it('reads the first frame of an animated GIF', async () => {
    const img = await decodeImageFile(file('anim.gif'));
    expect([img.width, img.height, img.format]).toEqual([8, 8, 'gif']);
    expect(pixel(img, 4, 4)[0]).toBeGreaterThan(200);
  });

  it('scales down to the longest side, never up', async () => {
    const small = await decodeImageFile(file('wide.png'), { maxSide: 200 });
    expect([small.width, small.height, small.sourceWidth]).toEqual([200, 50, 400]);
    const same = await decodeImageFile(file('wide.png'), { maxSide: 1000 });
    expect([same.width, same.height]).toEqual([400, 100]);
  });

  it.each([
    ['missing.png', 'IMAGE_NOT_FOUND'],
    ['notes.txt', 'IMAGE_UNSUPPORTED'],
    ['x.svg', 'IMAGE_UNSUPPORTED'],
    ['empty.png', 'IMAGE_CORRUPT'],
    ['truncated.png', 'IMAGE_CORRUPT'],
    ['bomb.png', 'IMAGE_TOO_LARGE'],
  ])('%s → %s', async (name, code) => {
    const error = await decodeImageFile(file(name)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageError);
    expect((error as ImageError).code).toBe(code);
  });

  it('refuses a directory, and honours a lower pixel limit', async () => {
    await expect(decodeImageFile(tmp.dir)).rejects.toMatchObject({ code: 'IMAGE_UNSUPPORTED' });
    await expect(decodeImageFile(file('wide.png'), { pixelLimit: 1000 })).rejects.toMatchObject({ code: 'IMAGE_TOO_LARGE' });
  });
});
