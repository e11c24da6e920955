#!/usr/bin/env bash
# `docker run --rm IMAGE true`, N times, against berthd and (when Debian's docker.io is installed)
# against dockerd on its own temp data root, socket and bridge; prints medians and the ratio. Both
# engines put the container on a bridge network (berthd with its NAT rules, dockerd without
# iptables so the host's firewall is left alone).
# Usage: bench/run-latency.sh [N]   (needs root; builds berthd in release mode)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-30}
work=$(mktemp -d /tmp/berth-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  # dockerd takes a few seconds to shut down; SIGKILL only what is still there after 15 s.
  for _ in $(seq 30); do
    alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.5
  done
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  grep " $work" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  for l in bbench1 dbench1; do ip link del "$l" 2>/dev/null || true; done
  nft delete table ip "berth_$(printf '%s' "$work/berth" | sha256sum | cut -c1-8)" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cargo build --release -j2 -p berth-engine >/dev/null

# A registry on loopback with the busybox fixture image.
cat > "$work/registry.yml" <<YML
version: 0.1
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:5099
YML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -fs http://127.0.0.1:5099/v2/ >/dev/null && break; sleep 0.1; done
tests/fixtures/build-images.sh 127.0.0.1:5099
IMAGE=127.0.0.1:5099/busybox:latest

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

measure() { # $1 = DOCKER_HOST
  DOCKER_HOST=$1 docker pull -q "$IMAGE" >/dev/null
  DOCKER_HOST=$1 docker run --rm "$IMAGE" true # warm-up
  for _ in $(seq "$N"); do
    s=$(date +%s%N)
    DOCKER_HOST=$1 docker run --rm "$IMAGE" true
    e=$(date +%s%N)
    echo $(( (e - s) / 1000 ))
  done | median
}

./target/release/berthd --data-root "$work/berth" -H "unix://$work/berth.sock" \
  --bridge bbench1 --bip 10.197.0.1/24 --default-address-pool base=10.197.128.0/17,size=24 \
  >"$work/berthd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "$work/berth.sock" ] && break; sleep 0.1; done
b=$(measure "unix://$work/berth.sock")
echo "berthd: median ${b} us over $N runs of docker run --rm busybox true"

if command -v dockerd >/dev/null 2>&1; then
  ip link add dbench1 type bridge
  ip addr add 10.196.0.1/24 dev dbench1
  ip link set dbench1 up
  dockerd --data-root "$work/docker" -H "unix://$work/docker.sock" --pidfile "$work/docker.pid" \
    --exec-root "$work/docker-exec" --insecure-registry 127.0.0.1:5099 --bridge dbench1 --iptables=false \
    >"$work/dockerd.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do DOCKER_HOST="unix://$work/docker.sock" docker version >/dev/null 2>&1 && break; sleep 0.1; done
  d=$(measure "unix://$work/docker.sock")
  echo "dockerd: median ${d} us"
  awk -v b="$b" -v d="$d" 'BEGIN {printf "ratio berthd/dockerd: %.2f\n", b/d}'
else
  echo "dockerd not installed (apt-get install docker.io): no ratio"
fi
