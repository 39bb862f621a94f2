import { describe, expect, it } from 'vitest';
import {
  collectFromFiles, collectFromItems, isImageFile, namePastedFile,
  type DataTransferItemLike, type EntryLike,
} from '../../renderer/src/files/collect-files';

interface F {
  name: string;
  type: string;
}
const f = (name: string, type = ''): F => ({ name, type });

// Fakes of the File and Directory Entries API: directories return their children in
// batches of `batch`, as Chromium's readEntries does (100 at a time).
function fileEntry(file: F): EntryLike & { file(ok: (file: F) => void): void } {
  return { isFile: true, isDirectory: false, name: file.name, file: (ok) => ok(file) };
}
function dirEntry(name: string, children: EntryLike[], batch = 2): EntryLike & { createReader(): { readEntries(ok: (e: EntryLike[]) => void): void } } {
  return {
    isFile: false,
    isDirectory: true,
    name,
    createReader() {
      let at = 0;
      return {
        readEntries(ok) {
          const part = children.slice(at, at + batch);
          at += part.length;
          setTimeout(() => ok(part), 0);
        },
      };
    },
  };
}
function item(entry: EntryLike | null, file: F | null = null): DataTransferItemLike<F> {
  return { kind: 'file', getAsFile: () => file, webkitGetAsEntry: () => entry };
}

describe('isImageFile', () => {
  it('accepts images by MIME type, or by extension when the type is unknown', () => {
    expect(isImageFile(f('a.png', 'image/png'))).toBe(true);
    expect(isImageFile(f('photo', 'image/jpeg'))).toBe(true);
    expect(isImageFile(f('IMG_0001.HEIC'))).toBe(true);
    expect(isImageFile(f('scan.tiff', 'application/octet-stream'))).toBe(true);
    expect(isImageFile(f('notes.txt', 'text/plain'))).toBe(false);
    expect(isImageFile(f('fake.png', 'text/plain'))).toBe(false); // the browser knows better
    expect(isImageFile(f('README'))).toBe(false);
    expect(isImageFile(f('archive.zip'))).toBe(false);
  });
});

describe('collectFromItems', () => {
  it('walks folders recursively, in name order, reading every batch, skipping hidden entries', async () => {
    const tree = dirEntry('shoot', [
      fileEntry(f('img10.jpg', 'image/jpeg')),
      fileEntry(f('img2.jpg', 'image/jpeg')),
      fileEntry(f('notes.txt', 'text/plain')),
      dirEntry('.thumbnails', [fileEntry(f('t.png', 'image/png'))]),
      dirEntry('day2', [fileEntry(f('b.png', 'image/png')), fileEntry(f('a.png', 'image/png')), fileEntry(f('c.webp'))]),
    ]);
    const loose = f('loose.gif', 'image/gif');
    const result = await collectFromItems([item(tree), item(fileEntry(loose), loose), { kind: 'string', getAsFile: () => null }]);
    expect(result.images.map((x) => x.name)).toEqual(['a.png', 'b.png', 'c.webp', 'img2.jpg', 'img10.jpg', 'loose.gif']);
    expect(result.skipped).toBe(1);
    expect(result.truncated).toBe(false);
  });

  it('uses getAsFile where there is no entry API', async () => {
    const file = f('x.png', 'image/png');
    const result = await collectFromItems([{ kind: 'file', getAsFile: () => file }]);
    expect(result.images).toEqual([file]);
  });

  it('stops at the limit and says so', async () => {
    const many = Array.from({ length: 30 }, (_, i) => fileEntry(f(`p${String(i).padStart(2, '0')}.png`, 'image/png')));
    const result = await collectFromItems([item(dirEntry('big', many, 7))], 12);
    expect(result.images).toHaveLength(12);
    expect(result.images[11]!.name).toBe('p11.png');
    expect(result.truncated).toBe(true);
  });

  it('does not follow folders deeper than the limit', async () => {
    let deep: EntryLike = fileEntry(f('deep.png', 'image/png'));
    for (let i = 0; i < 12; i++) deep = dirEntry(`d${i}`, [deep]);
    const result = await collectFromItems([item(deep)]);
    expect(result.images).toEqual([]);
  });
});

describe('collectFromFiles and pasted files', () => {
  it('filters a picked list', () => {
    const result = collectFromFiles([f('a.png', 'image/png'), f('b.pdf', 'application/pdf'), f('c.jpg')]);
    expect(result.images.map((x) => x.name)).toEqual(['a.png', 'c.jpg']);
    expect(result.skipped).toBe(1);
  });

  it('gives a pasted image a name that tells pastes apart', () => {
    const pasted = new File([new Uint8Array(4)], 'image.png', { type: 'image/png' });
    const named = namePastedFile(pasted, new Date('2026-01-02T03:04:05.678Z'));
    expect(named.name).toBe('pasted-2026-01-02T03-04-05.png');
    expect(named.type).toBe('image/png');
    const jpeg = namePastedFile(new File([], '', { type: 'image/jpeg' }), new Date(0));
    expect(jpeg.name).toMatch(/^pasted-.*\.jpg$/);
    const own = new File([], 'holiday.png', { type: 'image/png' });
    expect(namePastedFile(own, new Date())).toBe(own);
  });
});
