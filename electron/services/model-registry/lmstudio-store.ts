// LM Studio's model folders: <root>/<publisher>/<model>/<file>.gguf, the mmproj beside the model
// (LM Studio itself ignores a file placed directly in <root>). Found by the folder scan; this
// module only names what it finds: "publisher/model".
import { relative, sep } from 'node:path';
import { findGgufFiles, type FoundFile } from './folder-scan.js';

export interface LabelledFile extends FoundFile {
  /** A label for the folder the file is in, shown when the GGUF has no general.name. */
  collection: string;
}

export async function readLmStudioRoot(root: string): Promise<LabelledFile[]> {
  const files = await findGgufFiles(root, { maxDepth: 4, maxEntries: 20_000 });
  return files.map((f) => {
    const parts = relative(root, f.path).split(sep);
    return { ...f, collection: parts.length >= 3 ? `${parts[0]}/${parts[1]}` : parts.slice(0, -1).join('/') };
  });
}
