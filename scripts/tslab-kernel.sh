#!/usr/bin/env bash
# Kernel wrapper for the project's tslab kernel (registered by scripts/setup-jupyter.sh).
# tslab compiles with rootDir = its working directory (stack notes "Jupyter + tslab"), so the kernel is started from
# the project root whatever folder the notebook lives in: notebooks then `import ... from './lib/...'` and write
# results/<section>/ relative to the root.
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$root"
# R2EC_NODE: the node that ran setup-jupyter.sh (kernel.json env), if it still exists; else node on PATH.
node_bin="${R2EC_NODE:-}"
[ -n "$node_bin" ] && [ -x "$node_bin" ] || node_bin="$(command -v node || true)"
if [ -z "$node_bin" ]; then
  echo "r2ec kernel: node not found on PATH (set R2EC_NODE to the node binary)" >&2
  exit 127
fi
if [ ! -f node_modules/tslab/bin/tslab ]; then
  echo "r2ec kernel: $root/node_modules/tslab is missing; run 'npm ci' in $root" >&2
  exit 1
fi
exec "$node_bin" node_modules/tslab/bin/tslab "$@"
