// The analysis job's prompts, from resources/prompts/<language>/ (see its README.md):
// system.md, description.md, comments.md and tones.json, with {{placeholders}} filled in.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export class PromptError extends Error {
  readonly code = 'PROMPT_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'PromptError';
  }
}

export const LANGUAGES = ['en', 'ja'] as const;
export type Language = (typeof LANGUAGES)[number];
export const TONES = ['friendly', 'casual', 'professional', 'playful', 'poetic'] as const;
export type Tone = (typeof TONES)[number];

export interface PromptSet {
  system: string;
  description: string;
  comments: string;
  tones: Record<Tone, string>;
}

export interface AnalysisPrompts {
  system: string;
  description: string;
  comments: string;
}

/** Where resources/prompts lies: KOTARO_PROMPTS_DIR, the source tree, or the packaged resources. */
export function promptsDirCandidates(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const resourcesPath = (process as unknown as { resourcesPath?: string }).resourcesPath;
  return [
    ...(process.env.KOTARO_PROMPTS_DIR ? [resolve(process.env.KOTARO_PROMPTS_DIR)] : []),
    join(here, '..', '..', 'resources', 'prompts'),
    join(here, '..', '..', '..', 'resources', 'prompts'),
    ...(resourcesPath ? [join(resourcesPath, 'prompts')] : []),
  ];
}

const PLACEHOLDER = /\{\{\s*([a-zA-Z]+)\s*\}\}/g;

/** Fills {{name}} placeholders; an unknown name is an error (a typo must not reach the model). */
export function fillTemplate(text: string, values: Record<string, string | number>, what: string): string {
  return text.replace(PLACEHOLDER, (_, name: string) => {
    if (!(name in values)) throw new PromptError(`${what}: unknown placeholder {{${name}}} (known: ${Object.keys(values).join(', ')})`);
    return String(values[name]);
  });
}

const cache = new Map<string, PromptSet>();

export function loadPromptSet(language: Language, dir?: string): PromptSet {
  const base = dir ?? promptsDirCandidates().find((d) => existsSync(join(d, language)));
  if (!base) throw new PromptError(`the prompts for "${language}" were not found (looked in ${promptsDirCandidates().join(', ')})`);
  const key = join(base, language);
  const hit = cache.get(key);
  if (hit) return hit;
  const read = (name: string) => {
    try {
      return readFileSync(join(key, name), 'utf8').trim();
    } catch (error) {
      throw new PromptError(`cannot read ${join(key, name)}: ${(error as Error).message}`);
    }
  };
  let tones: Record<string, unknown>;
  try {
    tones = JSON.parse(read('tones.json')) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof PromptError) throw error;
    throw new PromptError(`${join(key, 'tones.json')} is not valid JSON: ${(error as Error).message}`);
  }
  for (const tone of TONES) {
    if (typeof tones[tone] !== 'string' || !tones[tone]) throw new PromptError(`${join(key, 'tones.json')} has no text for the tone "${tone}"`);
  }
  const set: PromptSet = { system: read('system.md'), description: read('description.md'), comments: read('comments.md'), tones: tones as Record<Tone, string> };
  // Check the placeholders once, at load.
  buildAnalysisPrompts(set, { tone: 'friendly', count: 3 });
  cache.set(key, set);
  return set;
}

export function buildAnalysisPrompts(set: PromptSet, options: { tone: Tone; count: number }): AnalysisPrompts {
  const values = { count: options.count, tone: set.tones[options.tone] };
  return {
    system: fillTemplate(set.system, values, 'system.md'),
    description: fillTemplate(set.description, values, 'description.md'),
    comments: fillTemplate(set.comments, values, 'comments.md'),
  };
}
