#!/usr/bin/env bash
# berth against the docker CLI on the same berthd: `ps`, `run --rm busybox true`, and the
# client's start-up alone (`-v`, which needs no engine). Prints hyperfine's medians and the
# ratios berth/docker (aim for start-up: at most 0.5).
# Usage: bench/cli.sh [RUNS]   (needs root and hyperfine; builds berthd and berth in release
# mode unless BERTH_CLI_BIN names a berth to measure)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-30}
command -v hyperfine >/dev/null || { echo "bench/cli.sh: needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }
. bench/common.sh
if [ -z "${BERTH_CLI_BIN:-}" ]; then
  cargo build --release -j2 -p berth-cli >/dev/null
  BERTH_CLI_BIN=$PWD/target/release/berth
fi

start_berthd
export DOCKER_HOST=$ENGINE BERTH_HOST=$ENGINE DOCKER_CLI_HINTS=false
docker pull -q "$IMAGE" >/dev/null
docker run -d --name bench-idle "$IMAGE" sleep 3600 >/dev/null # so ps has a row to print

median_of() { # $1 = hyperfine JSON, $2 = command index; prints the median in ms
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][int(sys.argv[2])]; print("%.2f" % (r["median"]*1000))' "$1" "$2"
}

compare() { # $1 = label, $2 = berth command, $3 = docker command
  hyperfine -N --style none --warmup 3 --runs "$RUNS" --export-json "$work/h.json" "$2" "$3" >/dev/null
  b=$(median_of "$work/h.json" 0)
  d=$(median_of "$work/h.json" 1)
  awk -v l="$1" -v b="$b" -v d="$d" 'BEGIN {printf "%-28s berth %8.2f ms   docker %8.2f ms   ratio %.2f\n", l, b, d, b/d}'
}

compare "start-up (-v)" "$BERTH_CLI_BIN -v" "docker -v"
compare "ps" "$BERTH_CLI_BIN ps" "docker ps"
compare "run --rm busybox true" "$BERTH_CLI_BIN run --rm $IMAGE true" "docker run --rm $IMAGE true"
