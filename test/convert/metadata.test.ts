// general.* metadata heuristics (gguf-py's Metadata): model-id parsing, titles, size labels,
// model-card front matter. Expected values are gguf-py's documented results for these ids.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { idToTitle, loadGeneralMetadata, modelIdComponents, parseFrontMatter, sizeLabel } from '../../electron/convert/general-metadata.js';
import { tempDir } from './helpers.js';

describe('model id heuristics', () => {
  it('titles', () => {
    expect(idToTitle('Mixtral-8x7B-Instruct-v0.1')).toBe('Mixtral 8x7B Instruct v0.1');
    expect(idToTitle('Meta-Llama-3-8B')).toBe('Meta Llama 3 8B');
    expect(idToTitle('hermes-2-pro-llama-3-8b-DPO')).toBe('Hermes 2 Pro Llama 3 8b DPO');
    expect(idToTitle('hf')).toBe('Hf');
    expect(idToTitle('Qwen2.5-VL-7B-Instruct')).toBe('Qwen2.5 VL 7B Instruct');
  });

  // [id, totalParams, full, org, basename, finetune, version, size label]
  const cases: Array<[string, number, string, string | undefined, string | undefined, string | undefined, string | undefined, string | undefined]> = [
    ['Mistral/Mixtral-8x7B-Instruct-v0.1', 0, 'Mixtral-8x7B-Instruct-v0.1', 'Mistral', 'Mixtral', 'Instruct', 'v0.1', '8x7B'],
    ['Mixtral-8x7B', 0, 'Mixtral-8x7B', undefined, 'Mixtral', undefined, undefined, '8x7B'],
    ['Mixtral', 0, 'Mixtral', undefined, undefined, undefined, undefined, undefined],
    ['NousResearch/Meta-Llama-3-8B', 0, 'Meta-Llama-3-8B', 'NousResearch', 'Meta-Llama-3', undefined, undefined, '8B'],
    ['Qwen1.5-MoE-A2.7B-Chat', 0, 'Qwen1.5-MoE-A2.7B-Chat', undefined, 'Qwen1.5-MoE', 'Chat', undefined, 'A2.7B'],
    ['Qwen2-57B-A14B-Instruct', 0, 'Qwen2-57B-A14B-Instruct', undefined, 'Qwen2', 'Instruct', undefined, '57B-A14B'],
    ['microsoft/Phi-3-mini-4k-instruct', 4e9, 'Phi-3-mini-4k-instruct', 'microsoft', 'Phi-3', '4k-instruct', undefined, 'mini'],
    ['Qwen2-0.5B-Instruct', 0, 'Qwen2-0.5B-Instruct', undefined, 'Qwen2', 'Instruct', undefined, '0.5B'],
    ['smallcloudai/Refact-1_6B-fim', 0, 'Refact-1_6B-fim', 'smallcloudai', 'Refact', 'fim', undefined, '1.6B'],
    ['UCLA-AGI/Gemma-2-9B-It-SPPO-Iter3', 0, 'Gemma-2-9B-It-SPPO-Iter3', 'UCLA-AGI', 'Gemma-2', 'It-SPPO', 'Iter3', '9B'],
    ['abacaj/llama-161M-100B', 161e6, 'llama-161M-100B', 'abacaj', 'llama', '100b', undefined, '161M'],
    ['SparseLLM/relu-100B', 1340e6, 'relu-100B', 'SparseLLM', 'relu', '100b', undefined, undefined],
    ['bigscience/bloom-7b1-petals', 0, 'bloom-7b1-petals', 'bigscience', 'bloom', 'petals', undefined, '7.1B'],
    ['mistralai/Mistral-Nemo-Instruct-2407', 0, 'Mistral-Nemo-Instruct-2407', 'mistralai', 'Mistral-Nemo', 'Instruct', '2407', undefined],
    ['OpenGVLab/Mini-InternVL-Chat-2B-V1-5', 0, 'Mini-InternVL-Chat-2B-V1-5', 'OpenGVLab', 'Mini-InternVL', 'Chat', 'V1-5', '2B'],
    ['microsoft/Florence-2-base', 0, 'Florence-2-base', 'microsoft', undefined, undefined, undefined, undefined],
    ['mistralai/-Mistral--Nemo-Base-2407-', 0, '-Mistral--Nemo-Base-2407-', 'mistralai', 'Mistral-Nemo-Base', undefined, '2407', undefined],
    ['Qwen2.5-VL-7B-Instruct', 8.29e9, 'Qwen2.5-VL-7B-Instruct', undefined, 'Qwen2.5-VL', 'Instruct', undefined, '7B'],
    ['hf', 308352, 'hf', undefined, undefined, undefined, undefined, undefined],
  ];
  for (const [id, params, full, org, basename, finetune, version, size] of cases) {
    it(id, () => {
      expect(modelIdComponents(id, params)).toEqual({ full, org, basename, finetune, version, sizeLabel: size });
    });
  }

  it('size labels from parameter counts', () => {
    expect(sizeLabel(308352)).toBe('308K');
    expect(sizeLabel(476288)).toBe('476K');
    expect(sizeLabel(365504)).toBe('366K');
    expect(sizeLabel(7_615_616_512)).toBe('7.6B');
    expect(sizeLabel(3_085_938_688)).toBe('3.1B');
    expect(sizeLabel(494_032_768)).toBe('494M');
    expect(sizeLabel(70_553_706_496)).toBe('71B');
  });
});

describe('model card and folder metadata', () => {
  const tmp = tempDir('meta');
  afterAll(() => tmp.remove());

  it('parses simple YAML front matter', () => {
    expect(parseFrontMatter('---\nlicense: apache-2.0\nlanguage:\n- en\n- "ja"\ntags: [multimodal, vision]\n---\n# Title\nlicense: no')).toEqual({
      license: 'apache-2.0', language: ['en', 'ja'], tags: ['multimodal', 'vision'],
    });
    expect(parseFrontMatter('# no front matter')).toEqual({});
  });

  it('a Qwen2.5-VL folder with a model card and generation config', async () => {
    const dir = join(tmp.path, 'Qwen2.5-VL-7B-Instruct');
    mkdirSync(dir);
    writeFileSync(join(dir, 'README.md'), '---\nlicense: apache-2.0\nlanguage:\n- en\npipeline_tag: image-text-to-text\ntags:\n- multimodal\nlibrary_name: transformers\nbase_model: Qwen/Qwen2.5-VL-7B\n---\n# Qwen2.5-VL\n');
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ top_k: 1, top_p: 0.001, temperature: 0.1, repetition_penalty: 1.05 }));
    const m = await loadGeneralMetadata(dir, {}, 8.29e9);
    expect(m).toMatchObject({
      name: 'Qwen2.5 VL 7B Instruct', basename: 'Qwen2.5-VL', finetune: 'Instruct', sizeLabel: '7B', license: 'apache-2.0',
      tags: ['multimodal', 'image-text-to-text'], languages: ['en'],
      baseModels: [{ name: 'Qwen2.5 VL 7B', organization: 'Qwen', repo_url: 'https://huggingface.co/Qwen/Qwen2.5-VL-7B' }],
    });
    expect(m.sampling).toEqual([
      { key: 'general.sampling.top_k', type: 'i32', value: 1 },
      { key: 'general.sampling.top_p', type: 'f32', value: 0.001 },
      { key: 'general.sampling.temp', type: 'f32', value: 0.1 },
    ]);
  });
});
