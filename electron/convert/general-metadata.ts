// general.* authorship metadata, derived as gguf-py's Metadata does it: from the model card's
// YAML front matter (README.md), config.json's _name_or_path, and the folder name
// (e.g. "Qwen2.5-VL-7B-Instruct" → name "Qwen2.5 VL 7B Instruct", basename "Qwen2.5-VL",
// size_label "7B", finetune "Instruct"); size_label falls back to the parameter count
// ("308K", "7.6B"); general.sampling.* come from generation_config.json.
import { access, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { GgufMetadata } from './gguf-writer.js';
import type { Json } from './hf-config.js';

export interface GeneralMetadata {
  name?: string;
  author?: string;
  version?: string;
  organization?: string;
  finetune?: string;
  basename?: string;
  description?: string;
  sizeLabel?: string;
  license?: string | string[];
  licenseName?: string;
  licenseLink?: string;
  sourceUrl?: string;
  sourceDoi?: string;
  sourceUuid?: string;
  sourceRepoUrl?: string;
  baseModels?: Array<Record<string, string>>;
  datasets?: Array<Record<string, string>>;
  tags?: string[];
  languages?: string[];
  sampling: Array<{ key: string; type: 'string' | 'i32' | 'f32'; value: string | number }>;
}

// ---------------------------------------------------------------- Python string helpers
const isLetter = (c: string) => /\p{L}/u.test(c);
const isCased = (c: string) => c.toLowerCase() !== c.toUpperCase();

/** Python's str.title(). */
function pyTitle(s: string): string {
  let out = '', prevCased = false;
  for (const c of s) {
    if (isCased(c)) {
      out += prevCased ? c.toLowerCase() : c.toUpperCase();
      prevCased = true;
    } else {
      out += c;
      prevCased = false;
    }
  }
  return out;
}

/** Python's str.islower(): at least one cased character and no uppercase ones. */
function pyIsLower(s: string): boolean {
  let cased = false;
  for (const c of s) if (isCased(c)) {
    if (c !== c.toLowerCase()) return false;
    cased = true;
  }
  return cased;
}

const isDecimal = (c: string | undefined) => c !== undefined && /^[0-9]$/.test(c);

/** Python's round() (half to even). */
function pyRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function idToTitle(s: string): string {
  return s.trim().replaceAll('-', ' ').split(/\s+/).filter(Boolean)
    .map((w) => (pyIsLower(w) && !/^(v\d+(?:\.\d+)*|\d.*)$/.test(w) ? pyTitle(w) : w)).join(' ');
}

// ---------------------------------------------------------------- size labels
export function sizeLabel(totalParams: number): string {
  const n = Math.abs(totalParams);
  const [scaled, suffix] = n > 1e12 ? [n * 1e-12, 'T'] : n > 1e9 ? [n * 1e-9, 'B'] : n > 1e6 ? [n * 1e-6, 'M'] : [n * 1e-3, 'K'];
  const fix = Math.max(2 - String(pyRound(scaled)).length, 0);
  return `${scaled.toFixed(fix)}${suffix}`;
}

interface IdComponents {
  full?: string; org?: string; basename?: string; finetune?: string; version?: string; sizeLabel?: string;
}

/** gguf-py Metadata.get_model_id_components. */
export function modelIdComponents(modelId: string | undefined, totalParams: number): IdComponents {
  if (modelId === undefined) return {};
  if (modelId.includes(' ')) return { full: modelId };
  let org: string | undefined, full: string;
  const slash = modelId.indexOf('/');
  if (slash >= 0) { org = modelId.slice(0, slash); full = modelId.slice(slash + 1); } else full = modelId;
  if (org !== undefined && org.length > 0 && org[0] === '.') org = undefined;

  const parts = full.split('-').filter((p) => p.length > 0);
  const types: Array<Set<string>> = parts.map(() => new Set());
  const sizeParams = (label: string) => {
    const k = ' KMBT'.indexOf(label[label.length - 1]!);
    const v = Number(label.slice(0, -1));
    if (k < 0 || label.slice(0, -1).trim() === '' || Number.isNaN(v)) throw new Error('not a size');
    return v * 1000 ** k;
  };
  const isActive = (label: string) => /^A\d+([._]\d+)?[KMBT][\d]?$/i.test(label);
  const normalize = (label: string) => {
    label = label.replaceAll('_', '.');
    if (isDecimal(label[label.length - 1])) label = label.slice(0, -2) + '.' + label[label.length - 1] + label[label.length - 2];
    if (label.length > 1 && isDecimal(label[label.length - 2]) && 'kmbt'.includes(label[label.length - 1]!))
      label = label.slice(0, -1) + label[label.length - 1]!.toUpperCase();
    return label;
  };
  parts.forEach((part, i) => {
    const t = types[i]!;
    if (/^(v|iter)?\d+([.]\d+)*$/i.test(part)) t.add('version');
    else if (/^(i?q\d(_\w)*|b?fp?(16|32))$/i.test(part)) { t.add('type'); parts[i] = part.toUpperCase(); }
    else if (i > 0 && /^(([A]|\d+[x])?\d+([._]\d+)?[KMBT][\d]?|small|mini|medium|large|x?xl)$/i.test(part)) {
      part = normalize(part);
      if (totalParams !== 0) {
        try {
          const labelParams = sizeParams(part);
          const next = i + 1 < parts.length ? normalize(parts[i + 1]!) : undefined;
          const followedByActive = next !== undefined && isActive(next) &&
            Math.abs(sizeParams(next.slice(1)) - Math.abs(totalParams)) <= Math.floor(7 * Math.abs(totalParams) / 8);
          if (!followedByActive && ((totalParams < 0 && labelParams < Math.floor(Math.abs(totalParams) / 8)) ||
              (totalParams > 0 && Math.abs(labelParams - totalParams) > Math.floor(7 * totalParams / 8)))) {
            t.add('finetune'); // likely a context length
            part = part.slice(0, -1) + part[part.length - 1]!.toLowerCase();
          }
        } catch { /* not a number: keep it as a size label */ }
      }
      if (t.size === 0) t.add('size_label');
      parts[i] = part;
    } else if (i > 0 && /^(chat|instruct|vision|lora)$/i.test(part)) {
      if (totalParams < 0 && part.toLowerCase() === 'lora') t.add('type'); else t.add('finetune');
    }
  });
  // word-based size labels are dropped when a number-based one exists
  if (parts.some((p, i) => types[i]!.has('size_label') && /\d/.test(p)))
    parts.forEach((p, i) => { if (types[i]!.has('size_label') && /^\p{L}+$/u.test(p)) types[i]!.delete('size_label'); });
  let atStart = true;
  parts.forEach((p, i) => {
    const t = types[i]!;
    if (atStart && ((t.size === 0 && isLetter(p[0]!)) || t.has('version'))) t.add('basename');
    else {
      atStart = false;
      if (t.size === 0) t.add('finetune');
    }
  });
  for (let i = parts.length - 1; i >= 0; i--) {
    const t = types[i]!;
    if (t.has('basename') && t.size > 1) t.delete('basename'); else break;
  }
  const join = (pred: (t: Set<string>) => boolean, dedupe = false) => {
    let sel = parts.filter((_, i) => pred(types[i]!));
    if (dedupe) sel = [...new Set(sel)];
    return sel.join('-') || undefined;
  };
  let base = join((t) => t.has('basename'));
  const size = join((t) => t.has('size_label'), true);
  const finetune = join((t) => t.has('finetune'));
  const version = join((t) => t.has('version') && !t.has('basename'));
  if (size === undefined && finetune === undefined && version === undefined) base = undefined;
  return { full, org, basename: base, finetune, version, sizeLabel: size };
}

// ---------------------------------------------------------------- model card front matter
/** A small YAML subset: `key: scalar`, `key: [a, b]` and `key:` followed by `- item` lines. */
export function parseFrontMatter(text: string): Record<string, string | string[]> {
  const lines = text.split(/\r?\n/);
  if (lines[0] !== '---') return {};
  const out: Record<string, string | string[]> = {};
  let listKey: string | undefined;
  const unquote = (v: string) => v.trim().replace(/^(['"])(.*)\1$/, '$2');
  for (const line of lines.slice(1)) {
    if (line === '---') break;
    const item = /^\s*-\s+(.*)$/.exec(line);
    if (item && listKey !== undefined) {
      const arr = out[listKey];
      if (Array.isArray(arr)) arr.push(unquote(item[1]!));
      continue;
    }
    const kv = /^([A-Za-z_][\w-]*):\s*(.*)$/.exec(line);
    if (!kv) { if (!/^\s/.test(line)) listKey = undefined; continue; }
    const [, key, value] = kv as unknown as [string, string, string];
    listKey = undefined;
    if (value === '') { out[key] = []; listKey = key; }
    else if (value.startsWith('[') && value.endsWith(']')) out[key] = value.slice(1, -1).split(',').map(unquote).filter(Boolean);
    else out[key] = unquote(value);
  }
  return out;
}

async function readText(path: string): Promise<string | undefined> {
  try { await access(path); return await readFile(path, 'utf8'); } catch { return undefined; }
}

// ---------------------------------------------------------------- heuristics
export async function loadGeneralMetadata(dir: string, config: Json, totalParams: number): Promise<GeneralMetadata> {
  const m: GeneralMetadata = { sampling: [] };
  const card = parseFrontMatter((await readText(join(dir, 'README.md'))) ?? '');
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const useCard = (field: keyof GeneralMetadata, key: string) => {
    if (key in card && m[field] === undefined) (m as unknown as Record<string, unknown>)[field] = card[key];
  };
  for (const [f, k] of [['name', 'name'], ['author', 'author'], ['version', 'version'], ['organization', 'organization'],
    ['description', 'description'], ['finetune', 'finetune'], ['basename', 'basename'], ['sizeLabel', 'size_label'],
    ['sourceUrl', 'url'], ['sourceDoi', 'doi'], ['sourceUuid', 'uuid'], ['sourceRepoUrl', 'repo_url'],
    ['name', 'model_name'], ['author', 'model_author'], ['version', 'model_version'], ['organization', 'model_organization'],
    ['description', 'model_description'], ['finetune', 'model_finetune'], ['basename', 'model_basename'],
    ['sizeLabel', 'model_size_label'], ['sourceUrl', 'model_url'], ['sourceDoi', 'model_doi'], ['sourceUuid', 'model_uuid'],
    ['sourceRepoUrl', 'model_repo_url'], ['name', 'model_name'], ['author', 'model_creator'], ['basename', 'model_type']] as const)
    useCard(f, k);
  // base models and datasets: Hugging Face ids or URLs, expanded into name/organization/version/repo_url
  const describe = (id: string): Record<string, string> => {
    const entry: Record<string, string> = {};
    if (/^(https?|ssh):\/\//.test(id)) {
      entry.repo_url = id;
      const hf = /^https?:\/\/huggingface.co\/([^/]+\/[^/]+)$/.exec(id);
      if (hf) {
        const c = modelIdComponents(hf[1], totalParams);
        if (c.full) entry.name = idToTitle(c.full);
        if (c.org) entry.organization = idToTitle(c.org);
        if (c.version) entry.version = c.version;
      }
    } else {
      const c = modelIdComponents(id, totalParams);
      if (c.full) entry.name = idToTitle(c.full);
      if (c.org) entry.organization = idToTitle(c.org);
      if (c.version) entry.version = c.version;
      if (c.org && c.full) entry.repo_url = `https://huggingface.co/${c.org}/${c.full}`;
    }
    return entry;
  };
  const baseValue = card.base_model ?? card.base_models ?? card.base_model_sources;
  if (baseValue !== undefined) m.baseModels = (Array.isArray(baseValue) ? baseValue : [baseValue]).map(describe);
  const dataValue = card.datasets ?? card.dataset ?? card.dataset_sources;
  if (dataValue !== undefined) m.datasets = (Array.isArray(dataValue) ? dataValue : [dataValue]).map(describe);
  useCard('license', 'license');
  useCard('licenseName', 'license_name');
  useCard('licenseLink', 'license_link');
  const appendList = (field: 'tags' | 'languages', key: string) => {
    const v = card[key];
    if (v === undefined) return;
    m[field] = [...(m[field] ?? []), ...(Array.isArray(v) ? v : [v])];
  };
  appendList('tags', 'tags');
  appendList('tags', 'pipeline_tag');
  appendList('languages', 'languages');
  appendList('languages', 'language');

  const applyId = (id: string | undefined) => {
    const c = modelIdComponents(id, totalParams);
    if (m.name === undefined && c.full !== undefined) m.name = idToTitle(c.full);
    if (m.organization === undefined && c.org !== undefined) m.organization = idToTitle(c.org);
    if (m.basename === undefined && c.basename !== undefined) m.basename = c.basename;
    if (m.finetune === undefined && c.finetune !== undefined) m.finetune = c.finetune;
    if (m.version === undefined && c.version !== undefined) m.version = c.version;
    if (m.sizeLabel === undefined && c.sizeLabel !== undefined) m.sizeLabel = c.sizeLabel;
  };
  const nameOrPath = str(config._name_or_path);
  if (nameOrPath !== undefined && nameOrPath.split('/').length - 1 <= 1) applyId(nameOrPath);
  applyId(basename(dir));

  if (m.name === undefined) m.name = basename(dir);
  if (m.sizeLabel === undefined && totalParams > 0) m.sizeLabel = sizeLabel(totalParams);

  const genText = await readText(join(dir, 'generation_config.json'));
  if (genText !== undefined) {
    let gen: Json | undefined;
    try { gen = JSON.parse(genText) as Json; } catch { gen = undefined; } // llama.cpp ignores a bad file too
    if (gen && typeof gen === 'object') {
      for (const [src, key, type] of [['sequence', 'sequence', 'string'], ['top_k', 'top_k', 'i32'], ['top_p', 'top_p', 'f32'],
        ['min_p', 'min_p', 'f32'], ['xtc_probability', 'xtc_probability', 'f32'], ['xtc_threshold', 'xtc_threshold', 'f32'],
        ['temperature', 'temp', 'f32'], ['penalty_last_n', 'penalty_last_n', 'i32'], ['penalty_repeat', 'penalty_repeat', 'f32'],
        ['mirostat', 'mirostat', 'i32'], ['mirostat_tau', 'mirostat_tau', 'f32'], ['mirostat_eta', 'mirostat_eta', 'f32']] as const) {
        const v = gen[src];
        if (type === 'string' ? typeof v === 'string' : typeof v === 'number')
          m.sampling.push({ key: `general.sampling.${key}`, type, value: v as string | number });
      }
    }
  }
  return m;
}

/** Writes the keys in gguf-py's set_gguf_meta_model order. */
export function addGeneralMetadata(meta: GgufMetadata, m: GeneralMetadata): void {
  for (const s of m.sampling)
    meta.add(s.key, s.type === 'string' ? { type: 'string', value: s.value as string } : { type: s.type, value: s.value as number });
  const addStr = (key: string, v: string | undefined) => { if (v !== undefined) meta.add(key, { type: 'string', value: String(v) }); };
  addStr('general.name', m.name);
  addStr('general.author', m.author);
  addStr('general.version', m.version);
  addStr('general.organization', m.organization);
  addStr('general.finetune', m.finetune);
  addStr('general.basename', m.basename);
  addStr('general.description', m.description);
  addStr('general.size_label', m.sizeLabel);
  addStr('general.license', Array.isArray(m.license) ? m.license.join(',') : m.license);
  addStr('general.license.name', m.licenseName);
  addStr('general.license.link', m.licenseLink);
  addStr('general.source.url', m.sourceUrl);
  addStr('general.source.doi', m.sourceDoi);
  addStr('general.source.uuid', m.sourceUuid);
  addStr('general.source.repo_url', m.sourceRepoUrl);
  if (m.baseModels) {
    meta.add('general.base_model.count', { type: 'u32', value: m.baseModels.length });
    m.baseModels.forEach((b, i) => {
      for (const f of ['name', 'author', 'version', 'organization', 'description', 'url', 'doi', 'uuid', 'repo_url'])
        addStr(`general.base_model.${i}.${f}`, b[f]);
    });
  }
  if (m.datasets) {
    meta.add('general.dataset.count', { type: 'u32', value: m.datasets.length });
    m.datasets.forEach((d, i) => {
      for (const f of ['name', 'author', 'version', 'organization', 'description', 'url', 'doi', 'uuid', 'repo_url'])
        addStr(`general.dataset.${i}.${f}`, d[f]);
    });
  }
  if (m.tags) meta.add('general.tags', { type: 'array', elem: 'string', value: m.tags });
  if (m.languages) meta.add('general.languages', { type: 'array', elem: 'string', value: m.languages });
}
