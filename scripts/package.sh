#!/usr/bin/env bash
# Builds Berth's Linux package with Tauri's bundler: a .deb holding the desktop app
# (/usr/bin/berth-desktop), the engine (/usr/bin/berthd), the CLI (/usr/bin/berth), the VM
# (/usr/bin/berth-vm, `berth vm`) and its guest image (/usr/lib/Berth/vm-guest, also the app's
# "Run the engine in a VM"), and berthd's systemd socket and
# service with the `berth` group (packaging/linux/), as docker.io ships dockerd. Prints its path.
#
#   scripts/package.sh              # release build → target/release/bundle/deb/Berth_<v>_amd64.deb
#   scripts/package.sh --debug      # debug build (what scripts/test.sh builds anyway; CI uses it)
#   scripts/package.sh --appimage   # also an AppImage
#
# The bundler is @tauri-apps/cli from npm (a prebuilt binary: no compile). Its AppImage step
# downloads linuxdeploy from GitHub, which CI machines cannot reach: CI builds the .deb only.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
cargo_profile=(--release)
tauri_flags=()
bundles=deb
for arg; do
    case $arg in
    --debug) profile=debug cargo_profile=() tauri_flags=(--debug) ;;
    --appimage) bundles=deb,appimage ;;
    *) echo "usage: $0 [--debug] [--appimage]" >&2 && exit 2 ;;
    esac
done
target=${CARGO_TARGET_DIR:-$PWD/target}

# The UI the app embeds, and the bundler (ui's devDependencies).
if [[ ! -x ui/node_modules/.bin/tauri ]]; then
    (cd ui && npm ci --no-audit --no-fund --loglevel=error)
fi
(cd ui && npm run build) >&2

cargo build -j2 "${cargo_profile[@]}" -p berth-engine -p berth-cli -p berth-vm --bins >&2

# tauri.conf.json's bundle.linux.deb.files take the binaries from target/package/.
mkdir -p target/package
install -m 0755 "$target/$profile/berthd" "$target/$profile/berth" "$target/$profile/berth-vm" \
    target/package/

# tauri.vm.conf.json's resources take the guest from target/vm-guest/ (cached by vm-guest.sh).
guest=$(scripts/vm-guest.sh "$target/$profile/berthd" "$target/$profile/berth-vm-agent")
if [[ $(realpath "$guest") != $(realpath -m target/vm-guest) ]]; then
    mkdir -p target/vm-guest
    cp "$guest/vmlinuz" "$guest/initramfs.img" target/vm-guest/
fi

# beforeBuildCommand is the UI build done above; --ci: no prompts.
(cd src-tauri && ../ui/node_modules/.bin/tauri build --ci "${tauri_flags[@]}" --bundles "$bundles" \
    --config tauri.vm.conf.json --config '{"build":{"beforeBuildCommand":""}}') >&2

ls -t "$target/$profile/bundle/deb/"*.deb | head -1
