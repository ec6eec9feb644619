#!/bin/sh
# Renders the kernel's logos (kernel-spec/logo-32x32.png, logo-64x64.png) from
# kernel-spec/logo-svg.svg. Run after editing the SVG and commit the PNGs: `install` copies all
# three into the kernel spec (JupyterLab's launcher uses the SVG or the 64 px PNG, the classic
# Notebook the 32 px one). Needs rsvg-convert (Debian: apt-get install librsvg2-bin).
set -eu
dir="$(cd "$(dirname "$0")/../kernel-spec" && pwd)"
if ! command -v rsvg-convert >/dev/null 2>&1; then
  echo "rsvg-convert not found: apt-get install librsvg2-bin (or brew install librsvg), then run $0 again" >&2
  exit 1
fi
for size in 32 64; do
  rsvg-convert --width "$size" --height "$size" --format png --output "$dir/logo-${size}x${size}.png" "$dir/logo-svg.svg"
  echo "wrote $dir/logo-${size}x${size}.png"
done
