// One analysis job: an image in, a description and N comments out, streamed as they are written.
//
//   decode (sharp) → encodeImage (engine: smart resize + vision tower)
//   → two prompts from the chat template that differ only after the image
//   → prefill their shared prefix once (system + image), then for each answer:
//       prefill its own tail, generate, rewind to the shared prefix
// so the image costs one vision pass and one prefill however many answers branch from it.
import type { AnalysisSettings, JobStage, WorkerMessage } from '../protocol.js';
import { EVENT_ID } from '../protocol.js';
import type { JobTimings } from '../../electron/contract/bridge.js';
import type { EngineImage, GenerateOptions } from '../engine-binding.js';
import type { LoadedModel } from '../model-host.js';
import { decodeImageFile } from '../image/decode-image.js';
import { expandImagePads, type ChatMessage } from '../tokenizer/index.js';
import { buildAnalysisPrompts, loadPromptSet } from './prompts.js';
import { parseComments, parseDescription } from './answer-parser.js';

export class JobError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'JobError';
  }
}

export interface AnalysisRequest {
  jobId: string;
  imagePath: string;
  settings: AnalysisSettings;
}

export interface AnalysisResult {
  description: string;
  comments: string[];
  rawDescription: string;
  rawComments: string;
  timings: JobTimings;
  promptTokens: number;
  generatedTokens: number;
  imageWidth: number;
  imageHeight: number;
}

type Part = 'description' | 'comments';

/** Coalesces streamed text into messages at most every `periodMs` (tokens come faster than a UI needs). */
class TextStream {
  private pending = '';
  private timer: NodeJS.Timeout | null = null;
  constructor(private readonly emit: (part: Part, text: string) => void, private readonly part: Part, private readonly periodMs = 50) {}
  push(text: string): void {
    if (!text) return;
    this.pending += text;
    this.timer ??= setTimeout(() => this.flush(), this.periodMs);
  }
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending) this.emit(this.part, this.pending);
    this.pending = '';
  }
}

/** Length of the common prefix of two token sequences. */
export function sharedPrefixLength(a: Int32Array, b: Int32Array): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

export function messagesFor(system: string, userText: string): ChatMessage[] {
  return [
    { role: 'system', content: system },
    { role: 'user', content: [{ type: 'image' }, { type: 'text', text: userText }] },
  ];
}

export async function runAnalysis(model: LoadedModel, request: AnalysisRequest, emit: (message: WorkerMessage) => void, signal: AbortSignal): Promise<AnalysisResult> {
  const { jobId, settings } = request;
  const t0 = performance.now();
  const timings: JobTimings = {
    decodeMs: undefined, preprocessMs: undefined, visionMs: undefined, prefillMs: undefined,
    firstTokenMs: undefined, decodeTokensPerSecond: undefined, totalMs: undefined,
  };
  const throwIfCancelled = () => {
    if (signal.aborted) throw new JobError('CANCELLED', 'the job was cancelled');
  };
  const onAbort = () => model.cancel();
  signal.addEventListener('abort', onAbort);
  let lastStageAt = 0;
  const stage = (name: JobStage, progress: number, force = true) => {
    const now = performance.now();
    if (!force && now - lastStageAt < 200) return;
    lastStageAt = now;
    emit({ type: 'job.stage', id: EVENT_ID, jobId, stage: name, progress: Math.min(1, Math.max(0, progress)) });
  };
  const emitText = (part: Part, text: string) => emit({ type: 'job.token', id: EVENT_ID, jobId, part, text });

  const info = model.engine.info;
  if (!info.hasVision) throw new JobError('MODEL_NO_VISION', 'the loaded model has no vision projector (mmproj): it cannot look at images');
  const imagePad = model.tokenizer.special.imagePad;
  if (imagePad === null) throw new JobError('MODEL_MISMATCH', 'the model vocabulary has no <|image_pad|> token');

  let image: EngineImage | null = null;
  try {
    // 1. Decode.
    stage('decode', 0.02);
    let t = performance.now();
    const decoded = await decodeImageFile(request.imagePath, { maxSide: settings.maxImageSide });
    timings.decodeMs = performance.now() - t;
    throwIfCancelled();

    // 2. Engine preprocessing + vision tower (one call, timed inside the engine).
    stage('vision', 0.08);
    image = await model.engine.encodeImage(decoded.rgb, decoded.width, decoded.height);
    timings.preprocessMs = image.preprocessMs;
    timings.visionMs = image.visionMs;
    throwIfCancelled();

    // 3. Prompts: the same system message and image, then each answer's own request.
    const prompts = buildAnalysisPrompts(loadPromptSet(settings.outputLanguage), { tone: settings.commentTone, count: settings.commentCount });
    const tokensOf = (userText: string) =>
      expandImagePads(model.tokenizer.encode(model.template.render(messagesFor(prompts.system, userText))), imagePad, [image!.nTokens]);
    const descIds = tokensOf(prompts.description);
    const commIds = tokensOf(prompts.comments);
    const shared = sharedPrefixLength(descIds, commIds);
    if (descIds.lastIndexOf(imagePad) >= shared) throw new JobError('INTERNAL', 'the two prompts differ before the image ends');
    const budget = info.contextLength;
    const longest = Math.max(descIds.length, commIds.length) + settings.maxNewTokens;
    if (longest > budget) {
      throw new JobError('CONTEXT_TOO_SMALL', `the prompt (${Math.max(descIds.length, commIds.length)} tokens with the image) and ${settings.maxNewTokens} new tokens exceed the context of ${budget}; lower the image size or raise the context length`);
    }

    // 4. Prefill the shared prefix once.
    stage('prefill', 0.25);
    const session = await model.getSession();
    await session.rewind(0);
    t = performance.now();
    await session.prefill(descIds.subarray(0, shared), [image]);
    const prefixMs = performance.now() - t;
    throwIfCancelled();

    const sampling: Omit<GenerateOptions, 'maxNewTokens'> = {
      temperature: settings.temperature,
      topK: settings.topK,
      topP: settings.topP,
      minP: settings.minP,
      repetitionPenalty: settings.repetitionPenalty,
      seed: settings.seed ?? Math.floor(Math.random() * 2 ** 32),
      stopTokens: model.tokenizer.stopTokens(),
    };
    let generated = 0;
    let generateMs = 0;
    let prefillMs = 0;
    const answer = async (part: Part, ids: Int32Array, from: number, to: number): Promise<string> => {
      await session.rewind(shared);
      const p = await session.prefill(ids.subarray(shared), []);
      prefillMs += p.ms;
      throwIfCancelled();
      stage(part, from);
      const decoder = model.tokenizer.streamDecoder();
      const stream = new TextStream(emitText, part);
      let text = '';
      let count = 0;
      const onToken = (token: number) => {
        if (timings.firstTokenMs === undefined) timings.firstTokenMs = performance.now() - t0;
        const delta = decoder.push(token);
        text += delta;
        stream.push(delta);
        count++;
        stage(part, from + ((to - from) * count) / settings.maxNewTokens, false);
      };
      const r = await session.generate({ ...sampling, maxNewTokens: settings.maxNewTokens }, onToken);
      const tail = decoder.flush();
      text += tail;
      stream.push(tail);
      stream.flush();
      generated += r.tokens.length;
      generateMs += r.ms;
      return text;
    };
    const rawDescription = await answer('description', descIds, 0.3, 0.6);
    const rawComments = await answer('comments', commIds, 0.6, 0.98);
    timings.prefillMs = prefixMs + prefillMs; // the shared prefix + both answers' own tails
    timings.decodeTokensPerSecond = generateMs > 0 ? (generated * 1000) / generateMs : 0;
    timings.totalMs = performance.now() - t0;
    return {
      description: parseDescription(rawDescription),
      comments: parseComments(rawComments, settings.commentCount),
      rawDescription,
      rawComments,
      timings,
      promptTokens: shared + (descIds.length - shared) + (commIds.length - shared),
      generatedTokens: generated,
      imageWidth: decoded.width,
      imageHeight: decoded.height,
    };
  } catch (error) {
    if (signal.aborted) throw new JobError('CANCELLED', 'the job was cancelled');
    throw error;
  } finally {
    signal.removeEventListener('abort', onAbort);
    image?.dispose();
  }
}
