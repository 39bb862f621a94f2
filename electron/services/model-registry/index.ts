// The model registry's public surface (see registry.ts for what it does).
export { ModelRegistry, toModelEntry, judge, resolveBudget, type RegisteredModel, type Budget, type Judgement, type ModelSource } from './registry.js';
export { estimateVram, maxContextThatFits, formatBytes, type VramEstimate } from './vram-estimate.js';
export { storeRoots, type StoreRoots } from './store-roots.js';
export type { ModelFileFacts } from './model-file.js';
