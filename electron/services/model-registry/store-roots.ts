// Where other apps keep their models on this machine. Each root can be overridden by an
// environment variable (the tests point them at folders they build; a user can too). A list
// variable takes several folders separated by the platform's path delimiter (':' on Linux).
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

function list(value: string | undefined): string[] | null {
  if (value === undefined) return null;
  return value.split(delimiter).map((p) => p.trim()).filter((p) => p.length > 0);
}

export interface StoreRoots {
  ollama: string[];
  lmstudio: string[];
  huggingface: string[];
}

export function storeRoots(env: NodeJS.ProcessEnv = process.env, home = homedir()): StoreRoots {
  return {
    // Ollama's own OLLAMA_MODELS moves its store; the Linux service install keeps it under /usr/share/ollama.
    ollama: list(env.KOTARO_OLLAMA_MODELS) ?? list(env.OLLAMA_MODELS) ?? [join(home, '.ollama', 'models'), '/usr/share/ollama/.ollama/models'],
    // LM Studio 0.3+ keeps models in ~/.lmstudio/models; older versions in ~/.cache/lm-studio/models.
    lmstudio: list(env.KOTARO_LMSTUDIO_MODELS) ?? [join(home, '.lmstudio', 'models'), join(home, '.cache', 'lm-studio', 'models')],
    huggingface: list(env.KOTARO_HF_CACHE)
      ?? list(env.HF_HUB_CACHE)
      ?? [env.HF_HOME ? join(env.HF_HOME, 'hub') : join(env.XDG_CACHE_HOME || join(home, '.cache'), 'huggingface', 'hub')],
  };
}
