// The model's chat template (tokenizer.chat_template from the GGUF), rendered with
// @huggingface/jinja exactly as transformers' apply_chat_template renders it.
import { Template } from '@huggingface/jinja';
import { TokenizerError } from './gguf-vocab.js';

export type ChatContent = string | Array<{ type: 'image' } | { type: 'text'; text: string }>;

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: ChatContent;
}

export class ChatTemplate {
  private readonly template: Template;

  constructor(readonly source: string, private readonly specialTokens: { bos?: string | null; eos?: string | null } = {}) {
    try {
      this.template = new Template(source);
    } catch (error) {
      throw new TokenizerError('TOKENIZER_MALFORMED', `the model's chat template does not parse: ${(error as Error).message}`);
    }
  }

  render(messages: ChatMessage[], options: { addGenerationPrompt?: boolean } = {}): string {
    try {
      return this.template.render({
        messages,
        add_generation_prompt: options.addGenerationPrompt ?? true,
        bos_token: this.specialTokens.bos ?? '',
        eos_token: this.specialTokens.eos ?? '',
      });
    } catch (error) {
      throw new TokenizerError('TOKENIZER_MALFORMED', `the model's chat template failed to render: ${(error as Error).message}`);
    }
  }
}
