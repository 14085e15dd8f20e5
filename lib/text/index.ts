// lib/text: tokenizer, chat template, R²ec prompt builders (spec §2) and the LM warm-up corpus.
export * from './bpe';
export * from './chat';
export * from './prompts';
export * from './corpus';
export * from './sequences';
