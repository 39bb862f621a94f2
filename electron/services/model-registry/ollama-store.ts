// Reads Ollama's model store without Ollama: manifests name models, blobs hold the bytes.
//   <root>/manifests/<registry>/<namespace>/<model>/<tag>   JSON (OCI-like image manifest)
//   <root>/blobs/sha256-<hex>                                 content-addressed files
// The layer of media type application/vnd.ollama.image.model is the GGUF; a layer
// application/vnd.ollama.image.projector (LLaVA-style imports) is a separate mmproj. Ollama's
// own qwen2.5vl files are one GGUF with architecture qwen25vl and the vision tower inside.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface OllamaModel {
  /** "qwen2.5vl:7b" for the official library, else "<registry>/<namespace>/<model>:<tag>". */
  name: string;
  manifestPath: string;
  modelBlob: string;
  projectorBlob: string | null;
}

const MODEL_LAYER = 'application/vnd.ollama.image.model';
const PROJECTOR_LAYER = 'application/vnd.ollama.image.projector';
const MAX_MANIFEST_BYTES = 1 << 20;

interface Manifest {
  layers?: Array<{ mediaType?: unknown; digest?: unknown }>;
}

/** Digest "sha256:<hex>" → the blob's path (Ollama writes "sha256-<hex>"; very old stores "sha256:<hex>"). */
async function blobPath(root: string, digest: unknown): Promise<string | null> {
  if (typeof digest !== 'string' || !/^sha256[:-][0-9a-f]{64}$/.test(digest)) return null;
  const hex = digest.slice(7);
  for (const name of [`sha256-${hex}`, `sha256:${hex}`]) {
    const path = join(root, 'blobs', name);
    try {
      if ((await stat(path)).isFile()) return path;
    } catch {
      /* try the next spelling */
    }
  }
  return null;
}

async function listDirs(path: string): Promise<string[]> {
  try {
    return (await readdir(path, { withFileTypes: true })).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
  } catch {
    return [];
  }
}

async function listFiles(path: string): Promise<string[]> {
  try {
    return (await readdir(path, { withFileTypes: true })).filter((e) => e.isFile() && !e.name.startsWith('.')).map((e) => e.name).sort();
  } catch {
    return [];
  }
}

export async function readOllamaStore(root: string): Promise<{ models: OllamaModel[]; problems: string[] }> {
  const models: OllamaModel[] = [];
  const problems: string[] = [];
  const manifests = join(root, 'manifests');
  for (const registry of await listDirs(manifests)) {
    for (const namespace of await listDirs(join(manifests, registry))) {
      for (const model of await listDirs(join(manifests, registry, namespace))) {
        for (const tag of await listFiles(join(manifests, registry, namespace, model))) {
          const manifestPath = join(manifests, registry, namespace, model, tag);
          const name = registry === 'registry.ollama.ai' && namespace === 'library' ? `${model}:${tag}` : `${registry}/${namespace}/${model}:${tag}`;
          let manifest: Manifest;
          try {
            const info = await stat(manifestPath);
            if (info.size > MAX_MANIFEST_BYTES) throw new Error('manifest too large');
            manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as Manifest;
          } catch (error) {
            problems.push(`${name}: unreadable manifest (${(error as Error).message})`);
            continue;
          }
          const layers = Array.isArray(manifest.layers) ? manifest.layers : [];
          const modelLayer = layers.find((l) => l?.mediaType === MODEL_LAYER);
          if (!modelLayer) continue; // e.g. a cloud model or an embedding-only manifest: nothing local to load
          const modelBlob = await blobPath(root, modelLayer.digest);
          if (!modelBlob) {
            problems.push(`${name}: its model blob ${String(modelLayer.digest).slice(0, 80)} is missing`);
            continue;
          }
          const projectorLayer = layers.find((l) => l?.mediaType === PROJECTOR_LAYER);
          const projectorBlob = projectorLayer ? await blobPath(root, projectorLayer.digest) : null;
          models.push({ name, manifestPath, modelBlob, projectorBlob });
        }
      }
    }
  }
  return { models, problems };
}
