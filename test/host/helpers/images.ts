// Images for the host tests: a fixture image and one file of each kind of bad input.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { fixturesRoot } from '../../helpers/paths.js';

export const fixtureImage = (name: string) => join(fixturesRoot, 'tiny-qwen25vl-a', 'images', name);

/** A valid PNG header that claims `w`×`h` pixels (a decompression bomb's calling card). */
export function hugePng(w: number, h: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body) >>> 0);
    return Buffer.concat([len, body, crc]);
  };
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(60_001))), chunk('IEND', Buffer.alloc(0))]);
}

export interface BadImages {
  dir: string;
  corrupt: string;
  truncated: string;
  huge: string;
  unsupported: string;
  svg: string;
  empty: string;
  missing: string;
  rotated: string;
}

export async function makeBadImages(): Promise<BadImages> {
  const dir = mkdtempSync(join(tmpdir(), 'kotaro-images-'));
  const png = readFileSync(fixtureImage('wide_640x360.png'));
  const files: BadImages = {
    dir,
    corrupt: join(dir, 'corrupt.jpg'),
    truncated: join(dir, 'truncated.png'),
    huge: join(dir, 'huge.png'),
    unsupported: join(dir, 'notes.txt.png'),
    svg: join(dir, 'drawing.svg'),
    empty: join(dir, 'empty.png'),
    missing: join(dir, 'missing.png'),
    rotated: join(dir, 'rotated.jpg'),
  };
  writeFileSync(files.corrupt, Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(500, 0x55)]));
  writeFileSync(files.truncated, png.subarray(0, Math.floor(png.length / 2)));
  writeFileSync(files.huge, hugePng(20_000, 20_000));
  writeFileSync(files.unsupported, 'just some text, not an image at all\n');
  writeFileSync(files.svg, '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>');
  writeFileSync(files.empty, '');
  // 40×20 stored, EXIF orientation 6 (rotate 90°): it is 20×40 as shown
  await sharp({ create: { width: 40, height: 20, channels: 3, background: '#336699' } }).jpeg().withMetadata({ orientation: 6 }).toFile(files.rotated);
  return files;
}

