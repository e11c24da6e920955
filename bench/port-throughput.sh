#!/usr/bin/env bash
# Published-port TCP throughput, host -> container: a client on the host sends SIZE_MB of zeros
# to 127.0.0.1:PORT, published with `-p PORT:5001` to a sink in a container that discards them
# (the host's python3, bound read-only into a busybox container: busybox nc's small reads would
# measure nc rather than the path). Runs against berthd and, when Debian's docker.io is installed, against dockerd
# (own temp data root, socket and bridge; its default userland proxy carries loopback traffic).
# Prints MB/s (median of N) and the ratio.
# Usage: bench/port-throughput.sh [SIZE_MB] [N]   (needs root; builds berthd in release mode)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${1:-1024}
N=${2:-5}
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
  for l in bbench0 dbench0; do ip link del "$l" 2>/dev/null || true; done
  for l in $(ls /sys/class/net | grep '^vb'); do
    [ "$(basename "$(readlink -f /sys/class/net/$l/master 2>/dev/null)")" = bbench0 ] && ip link del "$l" 2>/dev/null || true
  done
  nft delete table ip "$(table_of "$work/berth")" 2>/dev/null || true
  rm -rf "$work"
}
table_of() { echo "berth_$(printf '%s' "$1" | sha256sum | cut -c1-8)"; }
trap cleanup EXIT

cargo build --release -j2 -p berth-engine >/dev/null

cat > "$work/registry.yml" <<YML
version: 0.1
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:5098
YML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -fs http://127.0.0.1:5098/v2/ >/dev/null && break; sleep 0.1; done
tests/fixtures/build-images.sh 127.0.0.1:5098
IMAGE=127.0.0.1:5098/busybox:latest

SINK='import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5001)); s.listen(1)
c, _ = s.accept()
buf = bytearray(1 << 20)
while c.recv_into(buf):
    pass'

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# One transfer: start the sink, send, wait until the sink has read everything; prints MB/s.
transfer() { # $1 = DOCKER_HOST, $2 = host port
  local id
  id=$(DOCKER_HOST=$1 docker run -d -p "$2:5001" -v /usr:/usr:ro -v /lib:/lib:ro -v /lib64:/lib64:ro \
    "$IMAGE" /usr/bin/python3 -c "$SINK")
  python3 - "$2" "$SIZE_MB" <<'PY'
import socket, sys, time
port, size = int(sys.argv[1]), int(sys.argv[2]) << 20
chunk = bytes(1 << 20)
for _ in range(100):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"")
        break
    except OSError:
        time.sleep(0.05)
t0 = time.monotonic()
sent = 0
while sent < size:
    s.sendall(chunk)
    sent += len(chunk)
s.shutdown(socket.SHUT_WR)
s.settimeout(60)
while s.recv(65536):
    pass
dt = time.monotonic() - t0
print(f"{size / dt / 1e6:.0f}")
PY
  DOCKER_HOST=$1 docker rm -f "$id" >/dev/null
}

measure() { # $1 = DOCKER_HOST
  DOCKER_HOST=$1 docker pull -q "$IMAGE" >/dev/null
  local port
  for i in $(seq "$N"); do
    port=$((20000 + RANDOM % 20000))
    transfer "$1" "$port"
  done | median
}

./target/release/berthd --data-root "$work/berth" -H "unix://$work/berth.sock" \
  --bridge bbench0 --bip 10.199.0.1/24 --default-address-pool base=10.199.128.0/17,size=24 \
  >"$work/berthd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "$work/berth.sock" ] && break; sleep 0.1; done
b=$(measure "unix://$work/berth.sock")
echo "berthd: median ${b} MB/s over $N transfers of ${SIZE_MB} MiB to a published port"

if command -v dockerd >/dev/null 2>&1; then
  ip link add dbench0 type bridge
  ip addr add 10.198.0.1/24 dev dbench0
  ip link set dbench0 up
  dockerd --data-root "$work/docker" -H "unix://$work/docker.sock" --pidfile "$work/docker.pid" \
    --exec-root "$work/docker-exec" --insecure-registry 127.0.0.1:5098 --bridge dbench0 \
    --iptables=false >"$work/dockerd.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do DOCKER_HOST="unix://$work/docker.sock" docker version >/dev/null 2>&1 && break; sleep 0.1; done
  d=$(measure "unix://$work/docker.sock")
  echo "dockerd: median ${d} MB/s"
  awk -v b="$b" -v d="$d" 'BEGIN {printf "ratio berthd/dockerd: %.2f (higher is better)\n", b/d}'
else
  echo "dockerd not installed (apt-get install docker.io): no ratio"
fi
