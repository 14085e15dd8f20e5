// Worker-thread entry for lib/train/parallel.ts: registers tsx so the TypeScript library loads, then runs the task.
const { workerData, parentPort } = require('node:worker_threads');
require('tsx/cjs');
const { workerMain } = require('./parallel.ts');
workerMain(workerData).then(
  () => process.exit(0),
  (e) => {
    // R2ecErrors carry their own message; anything else is a bug: keep the stack
    const isUserError = e && e.name && /R2ecError|DataError|ConfigError/.test(e.name);
    parentPort.postMessage({ error: e && e.message ? (isUserError ? e.message : e.stack || e.message) : String(e) });
    process.exit(1);
  },
);
