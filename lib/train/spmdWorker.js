// Worker-thread entry for lib/train/parallel.ts: registers tsx so the TypeScript library loads, then runs the task.
const { workerData, parentPort } = require('node:worker_threads');
require('tsx/cjs');
const { workerMain } = require('./parallel.ts');
workerMain(workerData).then(
  () => process.exit(0),
  (e) => {
    parentPort.postMessage({ error: e && e.message ? e.message : String(e) });
    process.exit(1);
  },
);
