// The prompt files in resources/prompts load for every language and tone, fill their
// placeholders, and refuse unknown placeholders and missing tones.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildAnalysisPrompts, fillTemplate, LANGUAGES, loadPromptSet, PromptError, TONES } from '../../gpu-worker/analysis/prompts.js';
import { scratch } from '../engine/helpers.js';

const tmp = scratch('prompts');
afterAll(() => tmp.remove());

describe('prompts', () => {
  it.each(LANGUAGES)('%s: every tone fills in, with the count and no leftover placeholder', (language) => {
    const set = loadPromptSet(language);
    for (const tone of TONES) {
      const p = buildAnalysisPrompts(set, { tone, count: 4 });
      expect(p.comments).toContain('4');
      expect(p.comments).toContain(set.tones[tone]);
      for (const text of Object.values(p)) expect(text).not.toMatch(/\{\{|\}\}/);
    }
    if (language === 'ja') expect(set.system).toMatch(/日本語/);
  });

  it('refuses an unknown placeholder', () => {
    expect(() => fillTemplate('Write {{cuont}} comments', { count: 3 }, 'comments.md')).toThrow(PromptError);
  });

  it('refuses a prompt folder with a missing tone or a bad placeholder', () => {
    const dir = join(tmp.dir, 'p');
    mkdirSync(join(dir, 'en'), { recursive: true });
    writeFileSync(join(dir, 'en', 'system.md'), 'sys');
    writeFileSync(join(dir, 'en', 'description.md'), 'desc');
    writeFileSync(join(dir, 'en', 'comments.md'), '{{count}} in {{tone}}');
    writeFileSync(join(dir, 'en', 'tones.json'), JSON.stringify({ friendly: 'warm' }));
    expect(() => loadPromptSet('en', dir)).toThrow(/tone "casual"/);
    writeFileSync(join(dir, 'en', 'tones.json'), JSON.stringify(Object.fromEntries(TONES.map((t) => [t, t]))));
    writeFileSync(join(dir, 'en', 'comments.md'), '{{count}} in {{mood}}');
    expect(() => loadPromptSet('en', dir)).toThrow(/\{\{mood\}\}/);
  });
});
