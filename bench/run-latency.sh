#!/usr/bin/env bash
# `docker run --rm IMAGE true`, N times, against berthd and (when Debian's docker.io is installed)
# against dockerd on its own temp data root, socket and bridge; prints medians and the ratio. Both
# engines put the container on a bridge network (berthd with its NAT rules, dockerd without
# iptables so the host's firewall is left alone).
# Usage: bench/run-latency.sh [N]   (needs root; builds berthd in release mode)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-30}
. bench/common.sh

measure() { # $1 = DOCKER_HOST
  DOCKER_HOST=$1 docker pull -q "$IMAGE" >/dev/null
  DOCKER_HOST=$1 docker run --rm "$IMAGE" true # warm-up
  for _ in $(seq "$N"); do
    s=$(date +%s%N)
    DOCKER_HOST=$1 docker run --rm "$IMAGE" true || exit 1 # a failed run is not a fast one
    e=$(date +%s%N)
    echo $(( (e - s) / 1000 ))
  done | median
}

start_berthd
b=$(measure "$ENGINE")
echo "berthd: median ${b} us over $N runs of docker run --rm busybox true"

if command -v dockerd >/dev/null 2>&1; then
  start_dockerd
  d=$(measure "$ENGINE")
  echo "dockerd: median ${d} us"
  awk -v b="$b" -v d="$d" 'BEGIN {printf "ratio berthd/dockerd: %.2f\n", b/d}'
else
  echo "dockerd not installed (apt-get install docker.io): no ratio"
fi
