#!/usr/bin/env bash
# Jupyter + tslab setup for this checkout (stack notes "Jupyter + tslab"). Idempotent; safe to run again.
#
#   bash scripts/setup-jupyter.sh              # = npm run notebooks:setup
#   bash scripts/setup-jupyter.sh --local-only # CI / npm test: do not touch the per-user kernel registry
#   bash scripts/setup-jupyter.sh --packages-only  # only step 1 (CI runs it before `npm ci`)
#
# 1. Debian packages (Jupyter Notebook 6.4, nbconvert, nbclient, ipykernel, Chromium for static figure export).
#    Installed with apt-get when missing and we are root; otherwise the exact command is printed and we exit 1.
# 2. The kernel "r2ec-tslab" ("TypeScript (r2ec)"): its argv runs scripts/tslab-kernel.sh, which starts tslab in
#    the project root (tslab's rootDir = the kernel's cwd, so notebooks in notebooks/ can import './lib/...').
#    - always written to <root>/.jupyter-kernel/kernels/r2ec-tslab/ (git-ignored); scripts/run-notebook.py and
#      scripts/jupyter.sh put <root>/.jupyter-kernel first on JUPYTER_PATH, so they always use THIS checkout;
#    - unless --local-only, also installed per user (jupyter kernelspec install --user), so a Jupyter or JupyterLab
#      started any other way finds it. Several checkouts share that one per-user name: the last setup wins.
set -euo pipefail

KERNEL_NAME=r2ec-tslab
DISPLAY_NAME='TypeScript (r2ec)'
PY=/usr/bin/python3 # Debian's interpreter; `python3` on PATH may be another one without Jupyter
PACKAGES=(jupyter-notebook python3-notebook jupyter-nbconvert python3-nbconvert python3-nbclient jupyter-client
  python3-ipykernel chromium)

local_only=0
packages_only=0
for arg in "$@"; do
  case "$arg" in
    --local-only) local_only=1 ;;
    --packages-only) packages_only=1 ;;
    -h | --help)
      sed -n '2,15p' "$0"
      exit 0
      ;;
    *)
      echo "setup-jupyter: unknown option '$arg' (use --local-only, --packages-only or --help)" >&2
      exit 2
      ;;
  esac
done

root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
log() { echo "setup-jupyter: $*"; }

# --- 1. Debian packages ------------------------------------------------------------------------------------------
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)"
    [ "$status" = "install ok installed" ] || missing+=("$p")
  done
else
  # Not Debian: check what we need by function instead of by package name.
  if ! [ -x "$PY" ] || ! "$PY" -c 'import notebook, nbconvert, nbclient, jupyter_client, ipykernel' 2>/dev/null; then
    echo "setup-jupyter: no dpkg here, and $PY cannot import notebook, nbconvert, nbclient, jupyter_client and" >&2
    echo "  ipykernel. Install Jupyter Notebook, nbconvert, nbclient and ipykernel for $PY (or run on Debian 12)." >&2
    exit 1
  fi
  [ -x "${R2EC_CHROMIUM:-/usr/bin/chromium}" ] ||
    log "warning: no Chromium at ${R2EC_CHROMIUM:-/usr/bin/chromium}: figures will not export to SVG/PNG (set R2EC_CHROMIUM)"
fi

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q "${missing[@]}"
  else
    echo "setup-jupyter: missing Debian packages: ${missing[*]}" >&2
    echo "  Install them as root, then run this script again:" >&2
    echo "    sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
else
  log "Debian packages present"
fi

"$PY" -c 'import nbclient, nbformat, jupyter_client, ipykernel' || {
  echo "setup-jupyter: $PY still cannot import nbclient/nbformat/jupyter_client/ipykernel" >&2
  exit 1
}

[ "$packages_only" -eq 1 ] && exit 0

# --- 2. the project's tslab kernel ---------------------------------------------------------------------------------
if [ ! -f "$root/node_modules/tslab/bin/tslab" ]; then
  echo "setup-jupyter: $root/node_modules/tslab is missing; run 'npm ci' first" >&2
  exit 1
fi
wrapper="$root/scripts/tslab-kernel.sh"
chmod +x "$wrapper" 2>/dev/null || true

spec_dir="$root/.jupyter-kernel/kernels/$KERNEL_NAME"
mkdir -p "$spec_dir"
# Same argv as `tslab install` writes (config-path and {connection_file} split, tslab issue #36), with our wrapper
# as the binary. R2EC_NODE pins the node that ran setup, for Jupyters started without node on PATH.
node_bin="$(command -v node || true)"
WRAPPER="$wrapper" DISPLAY_NAME="$DISPLAY_NAME" NODE_BIN="$node_bin" "$PY" - "$spec_dir/kernel.json" <<'PYEOF'
import json, os, sys
spec = {
    "argv": [os.environ["WRAPPER"], "kernel", "--config-path", "{connection_file}"],
    "display_name": os.environ["DISPLAY_NAME"],
    "language": "typescript",
    "metadata": {"r2ec_root": os.path.dirname(os.path.dirname(os.environ["WRAPPER"]))},
}
if os.environ.get("NODE_BIN"):
    spec["env"] = {"R2EC_NODE": os.environ["NODE_BIN"]}
with open(sys.argv[1], "w") as f:
    json.dump(spec, f, indent=1, sort_keys=True)
    f.write("\n")
PYEOF
log "kernel spec written: $spec_dir/kernel.json"

if [ "$local_only" -eq 0 ]; then
  # What `tslab install --user` does, under our own kernel name.
  installed="$("$PY" -c "
import sys
from jupyter_client.kernelspec import KernelSpecManager
print(KernelSpecManager().install_kernel_spec(sys.argv[1], '$KERNEL_NAME', user=True))" "$spec_dir")"
  log "kernel '$KERNEL_NAME' ($DISPLAY_NAME) registered for user $(id -un) in $installed"
fi

# Check that Jupyter resolves the name to this checkout's spec when our folder comes first (as the runner does it).
resolved="$(JUPYTER_PATH="$root/.jupyter-kernel${JUPYTER_PATH:+:$JUPYTER_PATH}" "$PY" -c "
from jupyter_client.kernelspec import KernelSpecManager
print(KernelSpecManager().get_kernel_spec('$KERNEL_NAME').argv[0])")"
if [ "$resolved" != "$wrapper" ]; then
  echo "setup-jupyter: Jupyter resolves kernel '$KERNEL_NAME' to '$resolved', expected '$wrapper'" >&2
  exit 1
fi
log "ok: kernel '$KERNEL_NAME' -> $wrapper"
