#!/usr/bin/env node
// Build the native kernels (native/src/r2ec_native.cc → native/build/Release/r2ec_native.node). Runs as the root
// package's `install` script, so `npm ci` / `npm install` build it on every fresh machine; `npm run build:native`
// rebuilds it by hand. Offline: node-gyp (shipped with npm) compiles against the headers of the running Node
// installation (--nodedir), and links Debian's OpenBLAS (libopenblas-dev).
//
// A missing prerequisite or a failed build never fails the install: the workbench then uses the wasm kernels (one
// log line at start-up, lib/model/native-kernels.ts). Exceptions: R2EC_NATIVE=0 skips the build; R2EC_NATIVE=1 makes
// a failed build an error (the same contract as at run time).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const here = __dirname;
const required = process.env.R2EC_NATIVE === '1';
const say = (msg) => console.log(`r2ec native kernels: ${msg}`);

function giveUp(reason) {
  if (required) {
    console.error(`r2ec native kernels: build failed and R2EC_NATIVE=1 requires them: ${reason}`);
    process.exit(1);
  }
  say(`not built (${reason}); the wasm kernels will be used`);
  process.exit(0);
}

if (process.env.R2EC_NATIVE === '0') {
  say('skipped (R2EC_NATIVE=0)');
  process.exit(0);
}
if (process.platform !== 'linux' || process.arch !== 'x64') giveUp(`needs Linux x86-64, this is ${process.platform}/${process.arch}`);

// node-gyp: npm tells lifecycle scripts where its own copy is; otherwise look beside the npm of this Node.
const gypCandidates = [
  process.env.npm_config_node_gyp,
  path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
].filter(Boolean);
let gyp = gypCandidates.find((p) => fs.existsSync(p));
if (!gyp) {
  try {
    gyp = require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    giveUp('node-gyp not found (it ships with npm)');
  }
}

// Node's headers of this installation (Debian: /usr/include/node); without them node-gyp would try to download them.
const nodedir = path.resolve(path.dirname(process.execPath), '..');
if (!fs.existsSync(path.join(nodedir, 'include', 'node', 'node_api.h'))) giveUp(`no Node headers in ${nodedir}/include/node`);

// OpenBLAS's CBLAS header: pkg-config first, then Debian's multiarch location.
const pc = spawnSync('pkg-config', ['--cflags', 'openblas'], { encoding: 'utf8' });
const incDirs = [...((pc.status === 0 ? pc.stdout : '').match(/-I\S+/g) ?? []).map((f) => f.slice(2)), '/usr/include/x86_64-linux-gnu', '/usr/include'];
if (!incDirs.some((d) => fs.existsSync(path.join(d, 'cblas.h')))) {
  giveUp("no OpenBLAS headers (cblas.h): install Debian's libopenblas-dev (apt-get install libopenblas-dev)");
}

const t0 = Date.now();
const logFile = path.join(here, 'build.log');
const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`], { cwd: here, encoding: 'utf8', env: process.env });
fs.writeFileSync(logFile, `${r.stdout ?? ''}${r.stderr ?? ''}`);
if (r.status !== 0) {
  const lines = `${r.stderr ?? ''}`.split('\n').filter((l) => /error/i.test(l));
  giveUp(`node-gyp exited ${r.status}: ${lines[0]?.trim() ?? 'see log'} (full log: ${path.relative(process.cwd(), logFile)})`);
}

// Load it once in a fresh process, as the library will (one BLAS thread).
const mod = path.join(here, 'build', 'Release', 'r2ec_native.node');
const check = spawnSync(process.execPath, ['-e', `const m = require(${JSON.stringify(mod)}); console.log(JSON.stringify(m.info()))`], {
  encoding: 'utf8',
  env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
});
if (check.status !== 0) {
  giveUp(`built, but it does not load: ${(check.stderr || '').trim().split('\n').find((l) => /Error/.test(l)) ?? `exit ${check.status}`}`);
}
const info = JSON.parse(check.stdout);
say(`built in ${((Date.now() - t0) / 1000).toFixed(1)} s (${info.blas.trim()}; ${info.core} kernels)`);
