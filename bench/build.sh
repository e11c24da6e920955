#!/usr/bin/env bash
# `docker build` with the classic builder (DOCKER_BUILDKIT=0) of a 10-step Dockerfile (a COPY of
# a few MB of files, several RUNs), against berthd and (when Debian's docker.io is installed)
# dockerd on its own temp data root, socket and bridge. Three timings per engine, each the median
# of N rounds: a cold build (--no-cache), an unchanged rebuild (every step cached), and a rebuild
# after one copied file changed (cached up to its COPY). Prints medians and berthd/dockerd ratios.
# Usage: bench/build.sh [N]   (needs root; builds berthd in release mode)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-5}
. bench/common.sh
export DOCKER_BUILDKIT=0

ctx=$work/build-context
mkdir -p "$ctx/src"
# A few MB of files: 40 files of 100 KB of random data, and one small file the bench changes.
for i in $(seq 40); do head -c 100000 /dev/urandom >"$ctx/src/blob$i.bin"; done
echo 0 >"$ctx/src/changing.txt"
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $IMAGE
ENV APP=/app
WORKDIR /app
RUN echo preparing > /prepared.txt
COPY src/ /app/src/
RUN du -s /app/src > /app/size.txt
RUN find /app/src -name '*.bin' | wc -l > /app/count.txt
LABEL bench=build
RUN cat /app/src/changing.txt > /app/changing.copy
CMD ["cat", "/app/size.txt"]
DOCKERFILE

once() { # $1 = DOCKER_HOST, $2.. = build flags; prints microseconds
  local host=$1 s e
  shift
  s=$(date +%s%N)
  DOCKER_HOST=$host docker build -q "$@" -t bench:build "$ctx" >/dev/null || exit 1
  e=$(date +%s%N)
  echo $(((e - s) / 1000))
}

round() { # $1 = DOCKER_HOST, $2 = tag letter; prints "<letter><kind> us" lines
  echo "$2cold $(once "$1" --no-cache)"
  echo "$2cached $(once "$1")"
  date +%s%N >"$ctx/src/changing.txt"
  echo "$2changed $(once "$1")"
}

prepare() { # $1 = DOCKER_HOST
  DOCKER_HOST=$1 docker pull -q "$IMAGE" >/dev/null
  once "$1" >/dev/null # warm-up: fills the cache
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
  round "$berthd_host" b
  [ -n "$dockerd_host" ] && round "$dockerd_host" d
done >"$work/samples"

for kind in cold cached changed; do
  b=$(awk -v k="b$kind" '$1 == k {print $2}' "$work/samples" | median)
  line="$kind: berthd ${b} us"
  if [ -n "$dockerd_host" ]; then
    d=$(awk -v k="d$kind" '$1 == k {print $2}' "$work/samples" | median)
    line="$line, dockerd ${d} us, ratio $(awk -v b="$b" -v d="$d" 'BEGIN {printf "%.2f", b/d}')"
  fi
  echo "$line"
done
[ -n "$dockerd_host" ] || echo "dockerd not installed (apt-get install docker.io): no ratios"
