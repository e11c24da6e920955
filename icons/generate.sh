#!/usr/bin/env bash
# Renders the app icons from icons/source.svg (our own artwork) with rsvg-convert (Debian:
# librsvg2-bin): the PNG sizes Tauri's Linux bundles and window/tray icon use. Run it after
# editing source.svg and commit the PNGs.
#   icons/generate.sh
set -euo pipefail
cd "$(dirname "$0")"
command -v rsvg-convert >/dev/null || { echo "needs rsvg-convert (apt-get install librsvg2-bin)" >&2; exit 1; }
render() { rsvg-convert --width "$1" --height "$1" --format png --output "$2" source.svg; }
render 1024 source.png      # the master raster (also what `tauri icon icons/source.png` takes)
render 32 32x32.png
render 64 64x64.png
render 128 128x128.png
render 256 128x128@2x.png
render 512 icon.png
ls -l ./*.png
