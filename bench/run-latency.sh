#!/usr/bin/env bash
# `docker run --rm IMAGE true`, N times, against berthd and (when Debian's docker.io is installed)
# against dockerd on its own temp data root, socket and bridge; prints medians and the ratio. Both
# engines put the container on a bridge network (berthd with its NAT rules, dockerd without
# iptables so the host's firewall is left alone).
# With dockerd there, both engines run side by side and the runs alternate: this machine kind has
# slow and fast spells of tens of seconds, which would otherwise land on one engine only.
# Usage: bench/run-latency.sh [N]   (needs root; builds berthd in release mode)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-30}
. bench/common.sh

once() { # $1 = DOCKER_HOST; prints microseconds
  local s e
  s=$(date +%s%N)
  DOCKER_HOST=$1 docker run --rm "$IMAGE" true || exit 1 # a failed run is not a fast one
  e=$(date +%s%N)
  echo $(((e - s) / 1000))
}

prepare() { # $1 = DOCKER_HOST
  DOCKER_HOST=$1 docker pull -q "$IMAGE" >/dev/null
  DOCKER_HOST=$1 docker run --rm "$IMAGE" true # warm-up
}

start_berthd
berthd_host=$ENGINE
prepare "$berthd_host"
dockerd_host=
if command -v dockerd >/dev/null 2>&1; then
  start_dockerd
  dockerd_host=$ENGINE
  prepare "$dockerd_host"
fi

for _ in $(seq "$N"); do
  t=$(once "$berthd_host") # an assignment, so a failed run stops the bench (set -e)
  echo "b $t"
  if [ -n "$dockerd_host" ]; then
    t=$(once "$dockerd_host")
    echo "d $t"
  fi
done >"$work/samples"

b=$(awk '$1 == "b" {print $2}' "$work/samples" | median)
echo "berthd: median ${b} us over $N runs of docker run --rm busybox true"
if [ -n "$dockerd_host" ]; then
  d=$(awk '$1 == "d" {print $2}' "$work/samples" | median)
  echo "dockerd: median ${d} us (runs alternating with berthd's)"
  awk -v b="$b" -v d="$d" 'BEGIN {printf "ratio berthd/dockerd: %.2f\n", b/d}'
else
  echo "dockerd not installed (apt-get install docker.io): no ratio"
fi
