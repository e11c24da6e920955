#!/usr/bin/env bash
# Builds the engine VM's guest image: Debian 12's kernel and an initramfs that boots straight
# into berthd (no systemd). Prints the image dir, which holds `vmlinuz`, `initramfs.img` and
# `manifest` (what went in: package versions, modules, sizes).
#
#   scripts/vm-guest.sh BERTHD AGENT     # e.g. target/debug/berthd target/debug/berth-vm-agent
#
# - Kernel: Debian's linux-image package, downloaded and unpacked by scripts/vm-kernel.sh
#   (apt-get download; nothing is installed).
# - Modules: only what the engine needs (virtio devices, 9p, ext4, overlay, veth, bridge, the
#   nf_tables NAT bits of engine/src/network/firewall.rs) with their dependencies.
# - Userland: static busybox (shell, mount, ip, modprobe…), runc, nft, mke2fs and their shared
#   libraries (found with ldd), from the Debian packages scripts/apt-packages installs; their
#   package versions are recorded in the manifest. berthd and berth-vm-agent are stripped.
# - /init: vm/guest/init.
#
# Cached: the image is rebuilt only when an input changes (binaries, init, this script, the
# kernel, the package versions). Dir: $BERTH_VM_GUEST_DIR, else $CARGO_TARGET_DIR/vm-guest,
# else target/vm-guest.
set -euo pipefail
cd "$(dirname "$0")/.."

[[ $# -eq 2 ]] || { echo "usage: $0 BERTHD AGENT" >&2; exit 2; }
berthd=$(realpath "$1")
agent=$(realpath "$2")
for f in "$berthd" "$agent"; do
    [[ -x $f ]] || { echo "vm-guest.sh: $f is not an executable" >&2; exit 1; }
done

dest=${BERTH_VM_GUEST_DIR:-${CARGO_TARGET_DIR:-$PWD/target}/vm-guest}
kernel_dir=$(scripts/vm-kernel.sh)
kver=$(cat "$kernel_dir/.complete")
moddir=$kernel_dir/lib/modules/$kver

# Userland binaries, by their paths in the guest (the same as on this Debian host).
binaries=(/usr/sbin/runc /usr/sbin/nft /usr/sbin/mke2fs)
modules=(
    virtio_pci virtio_blk virtio_console virtio_net
    9p 9pnet_virtio ext4 crc32c_generic overlay
    veth bridge br_netfilter
    nf_tables nft_chain_nat nft_nat nft_masq nft_fib_ipv4 nft_ct nf_nat nf_conntrack
)

# Package versions of everything copied from the host (and the kernel), for the cache key and
# the manifest.
packages() {
    {
        echo busybox-static
        for b in "${binaries[@]}"; do
            # Merged /usr: dpkg knows some binaries by their /sbin path.
            dpkg -S "$b" 2>/dev/null | cut -d: -f1 || dpkg -S "${b#/usr}" 2>/dev/null | cut -d: -f1
            for l in $(ldd "$b" | awk '/=> \// {print $3} /^[ \t]*\/lib/ {print $1}'); do
                dpkg -S "$(realpath "$l")" 2>/dev/null | cut -d: -f1 || dpkg -S "$l" 2>/dev/null | cut -d: -f1
            done
        done
    } | sort -u | while read -r p; do
        [[ -n $p ]] && dpkg-query -W -f='${Package}=${Version}\n' "$p"
    done
}
for b in /bin/busybox "${binaries[@]}"; do
    [[ -x $b ]] || { echo "vm-guest.sh: $b missing (apt-get install busybox-static runc nftables e2fsprogs)" >&2; exit 1; }
done
pkgs=$(packages)
key=$({
    sha256sum "$berthd" "$agent" vm/guest/init "$0" | cut -d' ' -f1
    echo "$kver"
    echo "$pkgs"
    printf '%s\n' "${modules[@]}"
} | sha256sum | cut -d' ' -f1)
if [[ -f $dest/.key && $(cat "$dest/.key") == "$key" ]]; then
    echo "$dest"
    exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,sbin,etc/berth-vm,lib,lib64,usr/bin,usr/sbin,newroot,proc,sys,dev}

cp /bin/busybox "$root/bin/busybox"
install -m 0755 vm/guest/init "$root/init"
strip -o "$root/usr/bin/berthd" "$berthd"
strip -o "$root/usr/bin/berth-vm-agent" "$agent"
for b in "${binaries[@]}"; do
    cp "$b" "$root$b"
done
# Shared libraries (and the dynamic loader) at the paths ldd resolves them to.
for b in "${binaries[@]}" "$berthd" "$agent"; do
    ldd "$b" | awk '/=> \// {print $3} /^[ \t]*\/lib/ {print $1}'
done | sort -u | while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done
cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl-ca.crt" 2>/dev/null || true
if [[ -f $root/etc/ssl-ca.crt ]]; then
    mkdir -p "$root/etc/ssl/certs"
    mv "$root/etc/ssl-ca.crt" "$root/etc/ssl/certs/ca-certificates.crt"
fi
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\ntty:x:5:\n' >"$root/etc/group"

# Modules and their dependencies (from depmod's modules.dep), dependencies first.
declare -A seen=()
order=()
dep_of() { awk -F': ?' -v m="$1" '$1 == m {print $2; exit}' "$moddir/modules.dep"; }
visit() {
    local m=$1 d
    [[ -n ${seen[$m]:-} ]] && return
    seen[$m]=1
    for d in $(dep_of "$m"); do visit "$d"; done
    order+=("$m")
}
for name in "${modules[@]}"; do
    path=$(awk -F: -v n="$name" '{f=$1; sub(/.*\//, "", f); sub(/\.ko.*/, "", f); gsub(/-/, "_", f)} f == n {print $1; exit}' "$moddir/modules.dep")
    if [[ -z $path ]]; then
        grep -q "/$name.ko" "$moddir/modules.builtin" || { echo "vm-guest.sh: no module $name in $kver" >&2; exit 1; }
        continue
    fi
    visit "$path"
done
for m in "${order[@]}"; do
    mkdir -p "$root/lib/modules/$kver/$(dirname "$m")"
    cp "$moddir/$m" "$root/lib/modules/$kver/$m"
done
cp "$moddir"/modules.{order,builtin,builtin.modinfo} "$root/lib/modules/$kver/" 2>/dev/null || true
depmod -b "$root" "$kver"
printf '%s\n' "${order[@]}" >"$root/etc/berth-vm/modules"

mkdir -p "$work/out"
(cd "$root" && find . -mindepth 1 | sort | busybox cpio -o -H newc 2>/dev/null) | gzip -6 -n >"$work/out/initramfs.img"
cp "$kernel_dir/boot/vmlinuz-$kver" "$work/out/vmlinuz"
{
    echo "kernel: $kver"
    echo "initramfs: $(stat -c %s "$work/out/initramfs.img") bytes (gzip)"
    echo "unpacked: $(du -sb "$root" | cut -f1) bytes"
    echo "vmlinuz: $(stat -c %s "$work/out/vmlinuz") bytes"
    echo "modules: ${#order[@]}"
    echo "packages:"
    echo "$pkgs" | sed 's/^/  /'
} >"$work/out/manifest"
echo "$key" >"$work/out/.key"
rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
mv "$work/out" "$dest"
echo "vm-guest.sh: $(sed -n 2p "$dest/manifest") in $dest" >&2
echo "$dest"
