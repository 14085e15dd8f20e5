#!/usr/bin/env bash
# npm run jupyter [-- extra jupyter options]: Jupyter Notebook on notebooks/ with this checkout's tslab kernel
# ("TypeScript (r2ec)", started in the project root so notebooks import './lib/...').
#   R2EC_JUPYTER_PORT (default 8888), R2EC_JUPYTER_IP (default 127.0.0.1; 0.0.0.0 to reach it from elsewhere).
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
spec="$root/.jupyter-kernel/kernels/r2ec-tslab/kernel.json"
if [ ! -f "$spec" ] || ! grep -qF "\"$root/scripts/tslab-kernel.sh\"" "$spec" || [ ! -x /usr/bin/jupyter ]; then
  echo "jupyter: kernel or Jupyter not set up for $root; running scripts/setup-jupyter.sh"
  bash "$root/scripts/setup-jupyter.sh"
fi
# This checkout's kernel spec wins over the per-user registry (another checkout may have registered the name).
export JUPYTER_PATH="$root/.jupyter-kernel${JUPYTER_PATH:+:$JUPYTER_PATH}"
export PYDEVD_DISABLE_FILE_VALIDATION=1
# Same data default as `npm test`: the shared data folder beside the checkout, when there is one.
if [ -z "${R2EC_DATA_DIR:-}" ] && [ -d "$root/../shared/data" ]; then export R2EC_DATA_DIR=../shared/data; fi
port="${R2EC_JUPYTER_PORT:-8888}"
ip="${R2EC_JUPYTER_IP:-127.0.0.1}"
extra=()
[ "$(id -u)" -eq 0 ] && extra+=(--allow-root)
echo "jupyter: notebooks in $root/notebooks, kernel 'TypeScript (r2ec)', data ${R2EC_DATA_DIR:-./data}"
echo "jupyter: open the http://$ip:$port/?token=... URL that Jupyter prints below (Ctrl-C to stop)"
cd "$root/notebooks"
exec /usr/bin/jupyter notebook --no-browser --ip="$ip" --port="$port" --notebook-dir="$root/notebooks" \
  --MultiKernelManager.default_kernel_name=r2ec-tslab "${extra[@]}" "$@"
