#!/usr/bin/env node
// CLI entry: registers tsx so the TypeScript library runs without a build step.
require('tsx/cjs');
require('../lib/cli/main.ts').main(process.argv).catch((err) => {
  const { formatError } = require('../lib/util/errors.ts');
  console.error(formatError(err));
  process.exit(typeof err?.exitCode === 'number' ? err.exitCode : 1);
});
