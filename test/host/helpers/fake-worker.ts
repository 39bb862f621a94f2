// A scripted stand-in for the GPU worker, for the crash mechanics of supervision: it speaks
// gpu-worker/protocol.ts over the Node IPC channel (as the real worker does under nodeLauncher)
// and behaves as its environment tells it to. Written to a temp file and forked like the real one.
import { mkdtempSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SOURCE = String.raw`
import { appendFileSync } from 'node:fs';
const env = process.env;
const log = (entry) => { if (env.FAKE_LOG) appendFileSync(env.FAKE_LOG, JSON.stringify(entry) + '\n'); };
log({ event: 'start', pid: process.pid });
if (env.FAKE_CRASH_AT_START === '1') process.exit(3);
if (env.FAKE_CRASH_AFTER_MS) setTimeout(() => process.exit(4), Number(env.FAKE_CRASH_AFTER_MS));
const send = (m) => process.send(m);
const gpuFree = env.FAKE_GPU_FREE ? Number(env.FAKE_GPU_FREE) : null;
const engine = gpuFree === null ? null : {
  version: '0.0.0-fake', cudaCompiled: true, cudaArchs: '90-real', cudaRuntimeVersion: 13000, cudaDriverVersion: 13000, napiVersion: 9,
  gpus: [{ index: 0, name: 'Fake GPU', computeCapability: '9.0', totalBytes: gpuFree * 2, freeBytes: gpuFree, smCount: 1 }],
};
let telemetryTimer = null;
let loaded = null;
const jobs = new Map();
function telemetry(intervalMs) {
  if (telemetryTimer) clearInterval(telemetryTimer);
  telemetryTimer = null;
  const period = env.FAKE_TELEMETRY_MS ? Number(env.FAKE_TELEMETRY_MS) : intervalMs;
  if (period > 0) telemetryTimer = setInterval(() => send({ type: 'telemetry', id: 0, sample: {
    t: Date.now(), deviceUsedBytes: 1, deviceTotalBytes: 2, engine: { weights: 1, kvCache: 0, activations: 0, workspace: 0 }, otherProcessesBytes: null, backend: 'cpu',
  } }), period);
}
const info = { architecture: 'qwen2vl', name: 'fake', backend: 'cpu', weightType: 'F32', nVocab: 10, nEmbd: 8, nLayer: 1, nHead: 1, nHeadKv: 1,
  nCtxTrain: 4096, contextLength: 4096, hasVision: true, imagePadToken: 1, visionStartToken: 2, visionEndToken: 3, visionPatchSize: 14, visionMergeSize: 2 };
const memory = { weights: 1, kvCache: 1, activations: 1, workspace: 1, deviceUsed: 0, deviceTotal: 0 };
process.on('message', (req) => {
  log({ event: 'request', type: req.type, jobId: req.jobId, imagePath: req.imagePath, options: req.options });
  switch (req.type) {
    case 'hello':
      send({ type: 'hello', id: req.id, protocolVersion: req.protocolVersion, pid: process.pid, engine, engineError: null });
      return;
    case 'ping':
      send({ type: 'pong', id: req.id, sentAt: req.sentAt, pid: process.pid });
      return;
    case 'shutdown':
      send({ type: 'ack', id: req.id });
      setImmediate(() => process.exit(0));
      return;
    case 'telemetry.configure':
      telemetry(req.intervalMs);
      send({ type: 'ack', id: req.id });
      return;
    case 'model.load':
      send({ type: 'model.progress', id: 0, requestId: req.id, modelId: req.options.modelId, progress: 0.5 });
      setTimeout(() => {
        loaded = req.options.modelId;
        send({ type: 'model.loaded', id: req.id, modelId: loaded, info, memory, loadMs: 5 });
      }, Number(env.FAKE_LOAD_MS ?? 10));
      return;
    case 'model.unload':
      loaded = null;
      send({ type: 'ack', id: req.id });
      return;
    case 'job.cancel': {
      send({ type: 'ack', id: req.id });
      const job = jobs.get(req.jobId);
      if (job && env.FAKE_IGNORE_CANCEL !== '1') job.cancel();
      return;
    }
    case 'job.analyze': {
      if (!loaded) { send({ type: 'error', id: req.id, error: { code: 'NO_MODEL', message: 'no model is loaded' } }); return; }
      const endless = req.imagePath.includes('endless');
      const crash = req.imagePath.includes('crash-me');
      let n = 0;
      send({ type: 'job.stage', id: 0, jobId: req.jobId, stage: 'decode', progress: 0.1 });
      const timer = setInterval(() => {
        n++;
        send({ type: 'job.token', id: 0, jobId: req.jobId, part: n <= 3 ? 'description' : 'comments', text: 'w' + n + ' ' });
        if (crash && n === 2) process.abort(); // as a CUDA fault's abort() would
        if (!endless && n === 5) {
          clearInterval(timer);
          jobs.delete(req.jobId);
          send({ type: 'job.result', id: req.id, jobId: req.jobId, description: 'w1 w2 w3', comments: ['w4', 'w5'], rawDescription: 'w1 w2 w3 ',
            rawComments: 'w4 w5 ', timings: { visionMs: 1, totalMs: 10 }, promptTokens: 5, generatedTokens: 5, imageWidth: 10, imageHeight: 10 });
        }
      }, Number(env.FAKE_TOKEN_MS ?? 15));
      jobs.set(req.jobId, { cancel: () => { clearInterval(timer); jobs.delete(req.jobId); send({ type: 'error', id: req.id, error: { code: 'CANCELLED', message: 'cancelled' } }); } });
      return;
    }
  }
});
`;

export interface FakeWorker {
  entry: string;
  logFile: string;
  /** Every request and start the fake saw, across restarts. */
  log(): Array<{ event: string; type?: string; jobId?: string; imagePath?: string; pid?: number; options?: Record<string, unknown> }>;
}

export function writeFakeWorker(): FakeWorker {
  const dir = mkdtempSync(join(tmpdir(), 'kotaro-fake-worker-'));
  const entry = join(dir, 'fake-worker.mjs');
  writeFileSync(entry, SOURCE);
  const logFile = join(dir, 'log.jsonl');
  return {
    entry,
    logFile,
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []),
  };
}
