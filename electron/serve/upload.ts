// Files that have no path on this machine (a browser's drop on `kotaro serve`, an image
// pasted from the clipboard in Electron) are stored in the host's inbox and their stored
// path returned: `<inbox>/<uuid>/<original name>`, so cards and history keep the name.
// Size-capped; the name is reduced to a safe base name; nothing is decoded here (the worker
// decodes, with its own limits).
import { createWriteStream, mkdirSync } from 'node:fs';
import { unlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const MAX_UPLOAD_BYTES = 200 * 1024 * 1024;

export function safeFileName(name: string): string {
  const base = basename(name.replace(/\\/g, '/')).replace(/[^\p{L}\p{N}._ -]/gu, '_').slice(-120);
  return base.replace(/^\.+/, '') || 'image';
}

/** A fresh, unique place in the inbox for a file called `name`. */
export function inboxTarget(inboxDir: string, name: string): string {
  const dir = join(inboxDir, randomUUID());
  mkdirSync(dir, { recursive: true });
  return join(dir, safeFileName(name));
}

/** Stores bytes received whole (Electron's clipboard paste); returns the stored path. */
export async function storeInboxBytes(inboxDir: string, name: string, bytes: Uint8Array): Promise<string> {
  if (bytes.byteLength > MAX_UPLOAD_BYTES) {
    const error = new Error(`the file is larger than ${MAX_UPLOAD_BYTES / 2 ** 20} MiB`) as Error & { code: string };
    error.code = 'IMAGE_TOO_LARGE';
    throw error;
  }
  const target = inboxTarget(inboxDir, name);
  await writeFile(target, bytes, { flag: 'wx' });
  return target;
}

/** POST /upload?name=<file name> of `kotaro serve`: streams the body into the inbox. */
export function handleUpload(req: IncomingMessage, res: ServerResponse, inboxDir: string, name: string): void {
  const reply = (status: number, body: object) => {
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
  };
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > MAX_UPLOAD_BYTES) {
    reply(413, { error: { code: 'IMAGE_TOO_LARGE', message: `the file is larger than ${MAX_UPLOAD_BYTES / 2 ** 20} MiB` } });
    req.resume();
    return;
  }
  const target = inboxTarget(inboxDir, name);
  const out = createWriteStream(target, { flags: 'wx' });
  let received = 0;
  let failed = false;
  const fail = (status: number, code: string, message: string) => {
    if (failed) return;
    failed = true;
    out.destroy();
    void unlink(target).catch(() => undefined);
    reply(status, { error: { code, message } });
  };
  req.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received > MAX_UPLOAD_BYTES) {
      fail(413, 'IMAGE_TOO_LARGE', `the file is larger than ${MAX_UPLOAD_BYTES / 2 ** 20} MiB`);
      req.destroy();
    }
  });
  req.on('error', () => fail(400, 'UPLOAD_FAILED', 'the upload was interrupted'));
  out.on('error', (error) => fail(500, 'UPLOAD_FAILED', error.message));
  req.pipe(out);
  out.on('finish', () => {
    if (!failed) reply(200, { path: target });
  });
}
