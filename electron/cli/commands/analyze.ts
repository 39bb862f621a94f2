// `kotaro analyze <image...> --model <gguf> [--mmproj <gguf>] [--backend cpu|cuda|auto] [--json]`:
// the app's own services without a window. The images go through the same queue, worker and
// history as in the app (the results show up in its history), with the given model pinned and
// the flags applied for this run only (the saved settings are not changed). Text mode streams
// the model's words as they come; --json prints one document at the end.
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { HostServices, type HostOptions } from '../../host/host-services.js';
import { createNodeLauncher } from '../../worker-host/node-launcher.js';
import { appVersion } from '../paths.js';
import type { CliCommand } from '../command.js';
import type { JobView, Settings } from '../../contract/bridge.js';
import { ServiceError } from '../../services/service-error.js';

export interface AnalyzeIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

const defaultIo: AnalyzeIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

function intFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new ServiceError('INVALID_ARGUMENT', `--${name}: not an integer: ${value}`);
  return n;
}

/**
 * Runs the command; `hostOptions` lets tests swap the worker entry or data dir. Resolves with
 * the exit code: 0 when every image was analysed, 1 when any failed.
 */
export async function runAnalyze(argv: string[], io: AnalyzeIo = defaultIo, hostOptions: Partial<HostOptions> = {}): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      model: { type: 'string' },
      mmproj: { type: 'string' },
      backend: { type: 'string' },
      json: { type: 'boolean', default: false },
      context: { type: 'string' },
      'max-tokens': { type: 'string' },
      'image-side': { type: 'string' },
      'data-dir': { type: 'string' },
    },
  });
  if (positionals.length === 0) throw new ServiceError('INVALID_ARGUMENT', 'no images given');
  if (!values.model) throw new ServiceError('INVALID_ARGUMENT', '--model <gguf> is required');
  if (values.backend !== undefined && !['cpu', 'cuda', 'auto'].includes(values.backend)) {
    throw new ServiceError('INVALID_ARGUMENT', `--backend: cpu, cuda or auto, not ${values.backend}`);
  }
  const json = values.json === true;
  const overlay: Partial<Settings> = {};
  if (values.backend) overlay.backend = values.backend as Settings['backend'];
  const context = intFlag('context', values.context);
  if (context !== undefined) overlay.contextLength = context;
  const maxTokens = intFlag('max-tokens', values['max-tokens']);
  if (maxTokens !== undefined) overlay.maxNewTokens = maxTokens;
  const side = intFlag('image-side', values['image-side']);
  if (side !== undefined) overlay.maxImageSide = side;

  const host = new HostServices({
    host: 'serve',
    launcher: createNodeLauncher({ stdoutToStderr: true }),
    appVersion: appVersion(),
    ...(values['data-dir'] ? { dataDir: resolve(values['data-dir']) } : {}),
    // The user's model stores are not needed: the model is given by path.
    roots: { ollama: [], lmstudio: [], huggingface: [] },
    maxWaiting: Math.max(positionals.length, 1),
    ...hostOptions,
  });
  try {
    host.settings.overlay(overlay);
    const model = await host.registry.register(values.model, values.mmproj ?? null);
    host.models.pin(model.id);
    host.worker.start();
    host.models.on('status', (s) => {
      if (!json && s.state === 'loading' && s.progress === 0) io.err(`kotaro: loading ${model.name}…\n`);
    });

    const paths = positionals.map((p) => resolve(p));
    const ids = await host.submitJobs(paths);
    const finished = new Map<string, JobView>();
    let lastPart: string | null = null;
    let lastJob: string | null = null;
    const printHeader = (jobId: string) => {
      if (lastJob === jobId) return;
      if (lastJob !== null) io.out('\n');
      lastJob = jobId;
      lastPart = null;
      io.out(`== ${paths[ids.indexOf(jobId)]} ==\n`);
    };
    host.queue.on('token', ({ jobId, part, text }) => {
      if (json) return;
      printHeader(jobId);
      if (part !== lastPart) {
        if (lastPart !== null) io.out('\n');
        io.out(part === 'comments' ? '-- comments --\n' : '');
        lastPart = part;
      }
      io.out(text);
    });
    await new Promise<void>((done) => {
      const check = (view: JobView) => {
        if (!ids.includes(view.id) || !['done', 'failed', 'cancelled'].includes(view.state)) return;
        finished.set(view.id, view);
        if (!json && view.state !== 'done') {
          printHeader(view.id);
          io.err(`kotaro analyze: ${view.imagePath}: ${view.error?.message ?? view.state} [${view.error?.code ?? view.state.toUpperCase()}]\n`);
        }
        if (finished.size === ids.length) {
          host.queue.off('updated', check);
          done();
        }
      };
      host.queue.on('updated', check);
      for (const view of host.queue.list()) check(view);
    });
    const results = ids.map((id) => finished.get(id)!);
    if (json) {
      io.out(JSON.stringify({
        model: { id: model.id, name: model.name, modelPath: model.pair.text.path, mmprojPath: model.pair.mmproj?.path ?? null, backend: host.models.getStatus().backend },
        results: results.map((r) => ({
          image: r.imagePath,
          jobId: r.id,
          state: r.state,
          description: r.description,
          comments: r.comments,
          error: r.error,
          timings: r.timings,
        })),
      }, null, 2) + '\n');
    } else if (lastJob !== null) {
      io.out('\n');
    }
    return results.every((r) => r.state === 'done') ? 0 : 1;
  } finally {
    await host.stop();
  }
}

export const analyzeCommand: CliCommand = {
  name: 'analyze',
  summary: 'describe images and write comments with a local model, without the window',
  usage: 'kotaro analyze <image...> --model <gguf> [--mmproj <gguf>] [--backend cpu|cuda|auto] [--json] [--context <n>] [--max-tokens <n>] [--image-side <px>] [--data-dir <dir>]',
  run: (argv) => runAnalyze(argv),
};
