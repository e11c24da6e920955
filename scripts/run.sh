#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (as root) and runs berthd in the foreground.
# Prints the DOCKER_HOST to use with the unmodified docker CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
# busybox-static: the built-in welcome image is made from it at build time; nftables and
# iproute2: container networking.
for p in runc crun busybox-static nftables iproute2; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
cargo build --release -j2 -p berth-engine
DATA_ROOT=${BERTH_DATA_ROOT:-/var/lib/berth}
SOCK=${BERTH_SOCKET:-/run/berth.sock}
echo "Berth engine starting. In another shell:  export DOCKER_HOST=unix://$SOCK"
exec ./target/release/berthd --data-root "$DATA_ROOT" -H "unix://$SOCK" "$@"
