#!/usr/bin/env bash
# API latency under load, berthd against dockerd (when Debian's docker.io is installed) on the
# same machine: with LIVE running containers on the engine (default 200) and 10 clients
# running `docker run --rm busybox true` in a loop, `GET /_ping` and `GET /containers/json?all=1`
# are timed REQS times each (curl's time_total). Prints p50/p95/p99 in ms, berthd/dockerd
# ratios, and how many container runs the clients completed meanwhile (a faster engine carries
# more load in the same time, so the two are not under the same load: read both).
# Usage: bench/load.sh [LIVE] [REQS]   (needs root; builds berthd in release mode)
set -euo pipefail
cd "$(dirname "$0")/.."
LIVE=${1:-200}
REQS=${2:-200}
. bench/common.sh

percentiles() { # seconds on stdin -> "p50 p95 p99" in ms
  sort -n | awk '{a[NR]=$1} END {
    i50=int(NR*0.50); i95=int(NR*0.95); i99=int(NR*0.99);
    if (i50<1) i50=1; if (i95<1) i95=1; if (i99<1) i99=1;
    printf "%.1f %.1f %.1f\n", a[i50]*1000, a[i95]*1000, a[i99]*1000 }'
}

measure() { # $1 = DOCKER_HOST, $2 = engine tag
  local host=$1 sock=${1#unix://} churn=() path
  DOCKER_HOST=$host docker pull -q "$IMAGE" >/dev/null
  for _ in $(seq "$LIVE"); do DOCKER_HOST=$host docker run -d "$IMAGE" sleep 100000 >/dev/null; done
  rm -f "$work/stop"
  for _ in $(seq 10); do
    (while [ ! -e "$work/stop" ]; do
      DOCKER_HOST=$host docker run --rm "$IMAGE" true >/dev/null 2>&1 && echo >>"$work/$2.runs"
    done) &
    churn+=($!)
  done
  : >"$work/$2.runs"
  local t0 t1
  t0=$(date +%s%N)
  for path in /_ping "/containers/json?all=1"; do
    for _ in $(seq "$REQS"); do
      curl -s -o /dev/null -w '%{time_total}\n' --unix-socket "$sock" "http://localhost$path"
    done | percentiles >"$work/$2.$(printf '%s' "$path" | tr -c 'a-z' '_')"
  done
  t1=$(date +%s%N)
  awk -v n="$(wc -l <"$work/$2.runs")" -v ns=$((t1 - t0)) 'BEGIN {printf "%d runs in %.1f s (%.1f/s)\n", n, ns/1e9, n/(ns/1e9)}' >"$work/$2.churn"
  touch "$work/stop"
  wait "${churn[@]}"
  DOCKER_HOST=$host docker ps -aq | xargs -r env DOCKER_HOST="$host" docker rm -f >/dev/null
}

start_berthd
measure "$ENGINE" b
have_dockerd=
if command -v dockerd >/dev/null 2>&1; then
  start_dockerd
  measure "$ENGINE" d
  have_dockerd=1
fi

echo "$LIVE live containers, 10 clients running containers meanwhile; p50/p95/p99 in ms:"
for path in /_ping "/containers/json?all=1"; do
  key=$(printf '%s' "$path" | tr -c 'a-z' '_')
  read -r b50 b95 b99 <"$work/b.$key"
  line="$path: berthd $b50/$b95/$b99"
  if [ -n "$have_dockerd" ]; then
    read -r d50 d95 d99 <"$work/d.$key"
    line="$line, dockerd $d50/$d95/$d99, ratios $(awk -v a="$b50" -v b="$d50" 'BEGIN {printf "%.2f", a/b}')/$(awk -v a="$b95" -v b="$d95" 'BEGIN {printf "%.2f", a/b}')/$(awk -v a="$b99" -v b="$d99" 'BEGIN {printf "%.2f", a/b}')"
  fi
  echo "$line"
done
echo "meanwhile: berthd $(cat "$work/b.churn")${have_dockerd:+, dockerd $(cat "$work/d.churn")}"
[ -n "$have_dockerd" ] || echo "dockerd not installed (apt-get install docker.io): no ratios"
