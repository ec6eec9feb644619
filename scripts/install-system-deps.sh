#!/usr/bin/env bash
# Debian packages: oneDNN for the native backend, Jupyter for the kernel and notebooks,
# Chromium for the browser tests, PyTorch for the side-by-side benchmark. Skips what is present.
set -euo pipefail
pkgs=(g++ make python3 libdnnl-dev libvulkan1 jupyter-client python3-jupyter-kernel-test jupyter-nbconvert
      python3-nbclient jupyter-notebook python3-ipykernel chromium)
[ "${WITH_TORCH:-0}" = 1 ] && pkgs+=(python3-torch)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
echo "system packages: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
