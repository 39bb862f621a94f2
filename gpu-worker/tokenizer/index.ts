// The worker's text side: a model's tokenizer and chat template, both from its GGUF.
export { ModelTokenizer, StreamDecoder, expandImagePads, type SpecialTokens } from './model-tokenizer.js';
export { ChatTemplate, type ChatMessage, type ChatContent } from './chat-template.js';
export { readGgufVocab, TokenizerError, TOKEN_TYPE, type GgufVocab } from './gguf-vocab.js';
export { tokenizerFilesOf, QWEN2_SPLIT_REGEX } from './tokenizer-json.js';
