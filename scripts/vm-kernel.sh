#!/usr/bin/env bash
# Unpacks Debian 12's current kernel (the image linux-image-amd64 points at) for the test VM that
# boots a pure cgroup v2 kernel (tests/tests/cgroup_v2.rs; this machine kind is hybrid v1). The
# package is only downloaded and unpacked, never installed: no /boot, no initramfs hooks, no
# bootloader. depmod runs on the unpacked tree so the guest's modprobe finds modules.
#
#   scripts/vm-kernel.sh        # prints the kernel dir (cached: a second run only prints it)
#
# Dir: $BERTH_VM_KERNEL_DIR, else $CARGO_TARGET_DIR/vm-kernel, else target/vm-kernel.
set -euo pipefail
cd "$(dirname "$0")/.."

dest=${BERTH_VM_KERNEL_DIR:-${CARGO_TARGET_DIR:-$PWD/target}/vm-kernel}
if [[ -f $dest/.complete ]]; then
    echo "$dest"
    exit 0
fi

pkg_of_meta() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'; }
pkg=$(pkg_of_meta)
if [[ -z $pkg ]]; then
    apt-get update -qq >&2
    pkg=$(pkg_of_meta)
fi
[[ -n $pkg ]] || { echo "vm-kernel.sh: apt knows no linux-image-amd64" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# As root into a dir the _apt user cannot write: tell apt not to drop privileges for this.
(cd "$work" && apt-get download -qq -o APT::Sandbox::User=root "$pkg" >&2)
rm -rf "$dest"
mkdir -p "$dest"
dpkg-deb -x "$work"/*.deb "$dest"
version=$(ls "$dest/lib/modules")
depmod -b "$dest" "$version"
echo "$version" >"$dest/.complete"
echo "vm-kernel.sh: $pkg unpacked in $dest" >&2
echo "$dest"
