#!/usr/bin/env bash
# Debian's OpenBLAS for the native kernels (native/README.md): installs libopenblas-dev with apt-get when it is
# missing and we are root; otherwise prints the command. Run before `npm ci`, whose install script builds the
# kernels against it (without it the build is skipped and the wasm kernels are used). Idempotent.
#
#   bash native/setup-blas.sh            # .ci/run does this before npm ci
set -euo pipefail

PACKAGES=(libopenblas-dev pkg-config)
log() { echo "setup-blas: $*"; }

if ! command -v dpkg-query >/dev/null 2>&1; then
  log "no dpkg here: install OpenBLAS's development files (cblas.h, libopenblas) with your package manager"
  exit 0
fi
missing=()
for p in "${PACKAGES[@]}"; do
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" = "install ok installed" ] || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  log "Debian packages present (${PACKAGES[*]})"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-blas: missing Debian packages: ${missing[*]}; as root run:" >&2
  echo "    sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y ${missing[*]}" >&2
  exit 1
fi
log "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q "${missing[@]}"
