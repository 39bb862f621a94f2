// Host-side image checks: a good image gives its hash, size and a small JPEG thumbnail; a
// corrupt, truncated, huge, unsupported, missing or empty file each gives its own clear code.
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, mkdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import sharp from 'sharp';
import { inspectImage, MAX_IMAGE_PIXELS, THUMBNAIL_SIDE } from '../../electron/services/image-intake.js';
import { fixtureImage, makeBadImages, type BadImages } from './helpers/images.js';

let bad: BadImages;
beforeAll(async () => {
  bad = await makeBadImages();
});

describe('image intake', () => {
  it('gives the hash, size and a small JPEG thumbnail of a good image', async () => {
    const path = fixtureImage('wide_640x360.png');
    const facts = await inspectImage(path);
    expect(facts.sha256).toBe(createHash('sha256').update(readFileSync(path)).digest('hex'));
    expect(facts).toMatchObject({ format: 'png', width: 640, height: 360, bytes: readFileSync(path).length });
    expect(facts.thumbnail).toMatch(/^data:image\/jpeg;base64,/);
    const thumb = await sharp(Buffer.from(facts.thumbnail.split(',')[1]!, 'base64')).metadata();
    expect(thumb.format).toBe('jpeg');
    expect(Math.max(thumb.width!, thumb.height!)).toBe(THUMBNAIL_SIDE);
    expect(facts.thumbnail.length).toBeLessThan(20_000);
  });

  it('reports the size as shown (EXIF orientation applied)', async () => {
    expect(await inspectImage(bad.rotated)).toMatchObject({ width: 20, height: 40 });
  });

  it.each([
    ['corrupt', 'IMAGE_UNSUPPORTED|IMAGE_CORRUPT'],
    ['truncated', 'IMAGE_CORRUPT'],
    ['huge', 'IMAGE_TOO_LARGE'],
    ['unsupported', 'IMAGE_UNSUPPORTED'],
    ['svg', 'IMAGE_UNSUPPORTED'],
    ['empty', 'IMAGE_CORRUPT'],
    ['missing', 'IMAGE_NOT_FOUND'],
  ] as const)('refuses a %s file with %s', async (which, code) => {
    const error = await inspectImage(bad[which]).then(() => null, (e: unknown) => e as { code: string; message: string });
    expect(error, `${which} was accepted`).not.toBeNull();
    expect(error!.code).toMatch(new RegExp(`^(${code})$`));
    expect(error!.message).toContain(bad[which]);
  });

  it('names the limit in a too-large error and refuses a folder', async () => {
    await expect(inspectImage(bad.huge)).rejects.toMatchObject({ message: expect.stringContaining(`${MAX_IMAGE_PIXELS / 1e6} megapixels`) });
    const folder = join(bad.dir, 'folder.png');
    mkdirSync(folder);
    await expect(inspectImage(folder)).rejects.toMatchObject({ code: 'IMAGE_NOT_A_FILE' });
  });
});
