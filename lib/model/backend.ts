// Backend selection, once per process, and the wasm gaps closed (stack notes "TensorFlow.js on the wasm backend").
//   R2EC_BACKEND=tensorflow|wasm|cpu. Default: tfjs-node-gpu ('tensorflow') if it loads, else wasm, else cpu.
//   An explicit choice that cannot load is an error, never a silent fallback.
//   On wasm, the native kernels (./native-kernels, R2EC_NATIVE) replace the hot kernels when their module loads.
import * as tf from '@tensorflow/tfjs';
import { R2ecError } from '../util/errors';
import { registerWasmKernelFixes } from './wasm-kernels';
import { installNativeKernels, type NativeStatus } from './native-kernels';
import { isMainThread } from 'node:worker_threads';
import { envValue } from '../util/env';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
const BACKENDS: BackendName[] = ['tensorflow', 'wasm', 'cpu'];

let chosen: BackendName | undefined;
let pending: Promise<BackendName> | undefined;

export { tf };
export { nativeStatus, type NativeStatus } from './native-kernels';

/** The backend in use (after initBackend). */
export function backendName(): BackendName {
  if (!chosen) throw new R2ecError('backend not initialised: call `await initBackend()` first');
  return chosen;
}

async function tryLoad(name: BackendName): Promise<string | undefined> {
  try {
    if (name === 'tensorflow') {
      // Optional dependency: present only where users installed it (needs CUDA and internet at install time).
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require('@tensorflow/tfjs-node-gpu');
    } else if (name === 'wasm') {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require('@tensorflow/tfjs-backend-wasm');
    }
    const ok = await tf.setBackend(name);
    if (!ok) return `tf.setBackend('${name}') returned false`;
    await tf.ready();
    return undefined;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return err.code === 'MODULE_NOT_FOUND' ? 'package not installed' : String(err.message ?? err).split('\n')[0];
  }
}

export interface BackendOptions {
  /** overrides R2EC_BACKEND */
  backend?: BackendName;
  /** print the choice to stderr (default true) */
  log?: boolean;
}

/** Select the backend once; later calls return the same choice (an explicit different request is an error). */
export function initBackend(opts: BackendOptions = {}): Promise<BackendName> {
  const requested = (opts.backend ?? (envValue('R2EC_BACKEND') as BackendName | undefined)) || undefined;
  if (requested && !BACKENDS.includes(requested)) {
    return Promise.reject(
      new R2ecError(`R2EC_BACKEND="${requested}" is not a backend; use one of ${BACKENDS.join(', ')}`),
    );
  }
  if (pending) {
    return pending.then((name) => {
      if (requested && requested !== name) {
        throw new R2ecError(`backend already initialised as "${name}"; cannot switch to "${requested}" in-process`);
      }
      return name;
    });
  }
  pending = (async () => {
    const order = requested ? [requested] : BACKENDS;
    const failures: string[] = [];
    for (const name of order) {
      const why = await tryLoad(name);
      if (why === undefined) {
        chosen = name;
        installKernelFixes(name);
        const native = installNativeKernels(name); // throws when R2EC_NATIVE=1 cannot be honoured
        const fellBack = native.mode === 'auto' && !native.active && name === 'wasm';
        if (opts.log !== false || (fellBack && isMainThread)) {
          const fell = failures.length ? ` (${failures.join('; ')})` : '';
          process.stderr.write(`r2ec: backend ${name}${fell}${nativeNote(native)}\n`);
        }
        return name;
      }
      failures.push(`${name}: ${why}`);
    }
    pending = undefined;
    throw new R2ecError(
      requested
        ? `backend "${requested}" was requested (R2EC_BACKEND) but cannot load: ${failures.join('; ')}`
        : `no TensorFlow.js backend could load: ${failures.join('; ')}`,
    );
  })();
  return pending;
}

/** The native-kernel part of the backend log line (one line, also where the module could not load). */
function nativeNote(n: NativeStatus): string {
  if (n.active) return `, native kernels (${n.core ?? 'OpenBLAS'}, ${n.threads ?? 1} BLAS thread per rank)`;
  if (n.mode === 'off' || n.reason?.startsWith('backend')) return '';
  return `, wasm kernels: the native kernels cannot load (${n.reason}); R2EC_NATIVE=0 silences this`;
}

let fixesInstalled = false;

/**
 * - UnsortedSegmentSum is missing on wasm, so gather (embedding lookup) has no gradient there: register a JS kernel.
 * - OneHot on wasm ignores its dtype (float32 one-hots hold int32 bits), which broke the token-loss gradient.
 * - GatherV2 (embedding lookups), Slice, and BatchMatMul with batch > 1 or transpose flags (which the built-in matMul gradient uses), take slow
 *   paths on wasm: faster kernels in ./wasm-kernels.
 */
function installKernelFixes(name: BackendName): void {
  if (fixesInstalled) return;
  fixesInstalled = true;
  if (name === 'wasm') {
    tf.unregisterKernel(tf.BatchMatMul, 'wasm');
    tf.unregisterKernel(tf.Slice, 'wasm');
    tf.unregisterKernel(tf.OneHot, 'wasm');
    registerWasmKernelFixes();
    tf.registerKernel({
      kernelName: 'UnsortedSegmentSum',
      backendName: 'wasm',
      kernelFunc: ({ inputs, backend, attrs }) => {
        const be = backend as unknown as WasmBackendLike;
        const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
        const numSegments = (attrs as { numSegments: number }).numSegments;
        const inner = x.shape.slice(1).reduce((a, b) => a * b, 1);
        const out = be.makeOutput([numSegments, ...x.shape.slice(1)], x.dtype);
        const xv = be.typedArrayFromHeap(x);
        const ids = be.typedArrayFromHeap(segmentIds);
        const ov = be.typedArrayFromHeap(out);
        ov.fill(0);
        for (let r = 0; r < ids.length; r++) {
          const seg = ids[r];
          if (seg < 0 || seg >= numSegments) continue;
          const src = r * inner;
          const dst = seg * inner;
          for (let j = 0; j < inner; j++) ov[dst + j] += xv[src + j];
        }
        return out;
      },
    });
  }
}


interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}
