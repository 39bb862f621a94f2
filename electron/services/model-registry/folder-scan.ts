// Finds GGUF files under a folder: bounded depth and entry count (a user may point at their
// home folder), hidden folders skipped, symbolic links followed (the Hugging Face cache is made
// of them) with each real folder visited once, so a link loop ends.
import { readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface FoundFile {
  /** The path as found (a link's own path: its folder decides pairing). */
  path: string;
  realPath: string;
  sizeBytes: number;
  mtimeMs: number;
}

export interface ScanLimits {
  maxDepth: number;
  maxEntries: number;
}

export const DEFAULT_SCAN_LIMITS: ScanLimits = { maxDepth: 5, maxEntries: 20_000 };

const SKIP_DIRS = new Set(['node_modules', '__pycache__', '$RECYCLE.BIN', 'System Volume Information']);

export async function findGgufFiles(root: string, limits: ScanLimits = DEFAULT_SCAN_LIMITS): Promise<FoundFile[]> {
  const found: FoundFile[] = [];
  const seenDirs = new Set<string>();
  let entries = 0;

  async function visit(dir: string, depth: number): Promise<void> {
    let real: string;
    try {
      real = await realpath(dir);
    } catch {
      return;
    }
    if (seenDirs.has(real)) return;
    seenDirs.add(real);
    let names;
    try {
      names = await readdir(dir, { withFileTypes: true });
    } catch {
      return; // unreadable folders are skipped, not fatal: the rest of the scan still counts
    }
    names.sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of names) {
      if (++entries > limits.maxEntries) return;
      if (entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      let info;
      try {
        info = entry.isSymbolicLink() ? await stat(path) : entry.isDirectory() || entry.isFile() ? null : undefined;
      } catch {
        continue; // a dangling link
      }
      if (info === undefined) continue;
      const isDir = info ? info.isDirectory() : entry.isDirectory();
      if (isDir) {
        if (depth < limits.maxDepth && !SKIP_DIRS.has(entry.name)) await visit(path, depth + 1);
        continue;
      }
      if (!entry.name.toLowerCase().endsWith('.gguf')) continue;
      try {
        const s = info ?? (await stat(path));
        if (!s.isFile()) continue;
        found.push({ path, realPath: await realpath(path), sizeBytes: s.size, mtimeMs: s.mtimeMs });
      } catch {
        continue;
      }
    }
  }

  await visit(root, 0);
  return found;
}
