// Turns what the user dropped, pasted or picked into a list of image files. Folders are
// walked (webkitGetAsEntry: drag and drop gives entries, not files, for a folder), to a
// bounded depth and count so a drop of a home folder cannot hang the window.
// Written against minimal structural types so the tests can drive it with fakes.

export const MAX_FILES_PER_DROP = 1000;   // jobs.submit takes at most 1000 paths
const MAX_DEPTH = 8;

const IMAGE_EXTENSIONS = new Set(['jpg', 'jpeg', 'jpe', 'jfif', 'png', 'webp', 'gif', 'bmp', 'tif', 'tiff', 'avif', 'heic', 'heif']);

export interface FileLike {
  readonly name: string;
  readonly type: string;
}

/** An image by MIME type or, when the browser gives none, by extension. */
export function isImageFile(file: FileLike): boolean {
  if (file.type.startsWith('image/')) return true;
  if (file.type && file.type !== 'application/octet-stream') return false;
  const dot = file.name.lastIndexOf('.');
  return dot >= 0 && IMAGE_EXTENSIONS.has(file.name.slice(dot + 1).toLowerCase());
}

// The subset of the File and Directory Entries API that the walk uses.
export interface EntryLike {
  readonly isFile: boolean;
  readonly isDirectory: boolean;
  readonly name: string;
}
export interface FileEntryLike<F> extends EntryLike {
  file(success: (file: F) => void, failure?: (error: unknown) => void): void;
}
export interface DirectoryEntryLike extends EntryLike {
  createReader(): { readEntries(success: (entries: EntryLike[]) => void, failure?: (error: unknown) => void): void };
}
export interface DataTransferItemLike<F> {
  readonly kind: string;
  getAsFile(): F | null;
  webkitGetAsEntry?(): EntryLike | null;
}

export interface Collected<F> {
  images: F[];
  skipped: number;     // files that are not images
  truncated: boolean;  // more than MAX_FILES_PER_DROP images
}

class Collector<F extends FileLike> {
  readonly images: F[] = [];
  skipped = 0;
  truncated = false;
  constructor(private readonly limit: number) {}

  get full(): boolean {
    return this.images.length >= this.limit;
  }

  add(file: F): void {
    if (!isImageFile(file)) {
      this.skipped++;
      return;
    }
    if (this.full) {
      this.truncated = true;
      return;
    }
    this.images.push(file);
  }

  result(): Collected<F> {
    return { images: this.images, skipped: this.skipped, truncated: this.truncated };
  }
}

function readFile<F>(entry: FileEntryLike<F>): Promise<F | null> {
  return new Promise((resolve) => entry.file(resolve, () => resolve(null)));
}

/** readEntries returns at most ~100 entries a call: call it until it returns none. */
async function readAllEntries(dir: DirectoryEntryLike): Promise<EntryLike[]> {
  const reader = dir.createReader();
  const all: EntryLike[] = [];
  for (;;) {
    const batch = await new Promise<EntryLike[]>((resolve) => reader.readEntries(resolve, () => resolve([])));
    if (batch.length === 0) return all;
    all.push(...batch);
  }
}

async function walk<F extends FileLike>(entry: EntryLike, out: Collector<F>, depth: number): Promise<void> {
  if (out.full && out.truncated) return;
  if (entry.isFile) {
    const file = await readFile(entry as FileEntryLike<F>);
    if (file) out.add(file);
    return;
  }
  if (!entry.isDirectory || depth >= MAX_DEPTH) return;
  const children = await readAllEntries(entry as DirectoryEntryLike);
  // Hidden files and folders (.thumbnails, .git) are never what the user meant.
  children.sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
  for (const child of children) {
    if (child.name.startsWith('.')) continue;
    await walk(child, out, depth + 1);
  }
}

/** Images from a drop: entries are taken synchronously first (the list dies after the event). */
export async function collectFromItems<F extends FileLike>(items: ArrayLike<DataTransferItemLike<F>>, limit = MAX_FILES_PER_DROP): Promise<Collected<F>> {
  const out = new Collector<F>(limit);
  const roots: Array<{ entry: EntryLike | null; file: F | null }> = [];
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    if (item.kind !== 'file') continue;
    roots.push({ entry: item.webkitGetAsEntry?.() ?? null, file: item.getAsFile() });
  }
  for (const root of roots) {
    if (root.entry) await walk(root.entry, out, 0);
    else if (root.file) out.add(root.file);
  }
  return out.result();
}

/** Images from a plain file list (file input, clipboard). */
export function collectFromFiles<F extends FileLike>(files: ArrayLike<F>, limit = MAX_FILES_PER_DROP): Collected<F> {
  const out = new Collector<F>(limit);
  for (let i = 0; i < files.length; i++) out.add(files[i]!);
  return out.result();
}

/** A pasted image has a generic name ("image.png"): give it one that tells pastes apart. */
export function namePastedFile(file: File, now: Date): File {
  if (file.name && file.name !== 'image.png' && file.name !== 'image') return file;
  const ext = file.type.split('/')[1]?.replace('jpeg', 'jpg') ?? 'png';
  const stamp = now.toISOString().replace(/[:.]/g, '-').slice(0, 19);
  return new File([file], `pasted-${stamp}.${ext}`, { type: file.type });
}
