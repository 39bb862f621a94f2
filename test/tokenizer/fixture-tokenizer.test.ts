// The tokenizer and chat template built from a GGUF's own metadata reproduce transformers
// exactly on every fixture case: the prompt text tokenizes to the reference input_ids (after
// expanding each image placeholder to the image's token count), the chat template renders the
// reference prompt text, and the reference greedy tokens decode to the reference text.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ModelTokenizer, ChatTemplate, expandImagePads } from '../../gpu-worker/tokenizer/index.js';
import { loadFixture, readI32 } from '../../gpu-worker/eval/fixture.js';
import { fixturesRoot } from '../helpers/paths.js';

for (const name of ['tiny-qwen25vl-a', 'tiny-qwen2-a']) {
  describe(`tokenizer from ${name}/llamacpp/model-f32.gguf`, () => {
    const fixture = loadFixture(join(fixturesRoot, name, 'refs', 'manifest.json'));
    const tokenizer = ModelTokenizer.fromFile(join(fixturesRoot, name, 'llamacpp', 'model-f32.gguf'));
    const template = new ChatTemplate(tokenizer.chatTemplate!);

    it('has the fixture\'s special tokens', () => {
      expect(tokenizer.special).toMatchObject({ imStart: 657, imEnd: 658, endOfText: 656, visionStart: 665, visionEnd: 666, imagePad: 668 });
      expect(tokenizer.stopTokens().sort()).toEqual([656, 658]);
    });

    for (const c of fixture.cases) {
      it(`${c.name}: prompt text → exactly the reference input_ids`, () => {
        const ref = readI32(fixture, c, 'input_ids')!.data;
        let ids = tokenizer.encode(c.promptText);
        const grid = readI32(fixture, c, 'image_grid_thw');
        if (grid) {
          const counts = c.images.map((_, i) => (grid.data[3 * i]! * grid.data[3 * i + 1]! * grid.data[3 * i + 2]!) / 4);
          ids = expandImagePads(ids, tokenizer.special.imagePad!, counts);
        }
        expect(Array.from(ids)).toEqual(Array.from(ref));
      });

      it(`${c.name}: the chat template renders the reference prompt text`, () => {
        const content = [...c.images.map(() => ({ type: 'image' as const })), { type: 'text' as const, text: c.userPrompt }];
        expect(template.render([{ role: 'user', content }])).toBe(c.promptText);
      });

      it(`${c.name}: the greedy tokens decode to the reference text, streamed or whole`, () => {
        const tokens = readI32(fixture, c, 'greedy_tokens')!.data;
        expect(tokenizer.decode(tokens, { keepSpecial: true })).toBe(c.greedyText);
        const stream = tokenizer.streamDecoder({ keepSpecial: true });
        let text = '';
        for (const t of tokens) text += stream.push(t);
        expect(text + stream.flush()).toBe(c.greedyText);
      });
    }

    it('decodes the prompt ids back to the prompt text (special tokens kept)', () => {
      for (const c of fixture.cases) expect(tokenizer.decode(tokenizer.encode(c.promptText), { keepSpecial: true })).toBe(c.promptText);
    });
  });
}
