// The Hugging Face hub cache: <cache>/models--<org>--<name>/snapshots/<revision>/<files>, where
// the files are symbolic links into ../../blobs. Every revision is scanned (the registry lists a
// blob seen in two revisions once, by its real path).
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { findGgufFiles } from './folder-scan.js';
import type { LabelledFile } from './lmstudio-store.js';

export async function readHfCache(root: string): Promise<LabelledFile[]> {
  let repos: string[];
  try {
    repos = (await readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory() && e.name.startsWith('models--')).map((e) => e.name).sort();
  } catch {
    return [];
  }
  const out: LabelledFile[] = [];
  for (const repo of repos) {
    const repoId = repo.slice('models--'.length).split('--').join('/');
    const snapshots = join(root, repo, 'snapshots');
    let revisions: string[];
    try {
      revisions = (await readdir(snapshots, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
    } catch {
      continue;
    }
    for (const revision of revisions) {
      for (const file of await findGgufFiles(join(snapshots, revision), { maxDepth: 3, maxEntries: 5_000 })) {
        out.push({ ...file, collection: repoId });
      }
    }
  }
  return out;
}
