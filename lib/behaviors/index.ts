// Reasoning-behaviour tagging (paper section on reasoning behaviours; notebook 05-reasoning-behaviors).
export * from './types';
export * from './rules';
export * from './llm-judge';
export * from './agreement';
export * from './annotation';
export * from './summary';
