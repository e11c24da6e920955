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
. bench/common.sh

SINK='import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5001)); s.listen(1)
c, _ = s.accept()
buf = bytearray(1 << 20)
while c.recv_into(buf):
    pass'


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

start_berthd
b=$(measure "$ENGINE")
echo "berthd: median ${b} MB/s over $N transfers of ${SIZE_MB} MiB to a published port"

if command -v dockerd >/dev/null 2>&1; then
  start_dockerd
  d=$(measure "$ENGINE")
  echo "dockerd: median ${d} MB/s"
  awk -v b="$b" -v d="$d" 'BEGIN {printf "ratio berthd/dockerd: %.2f (higher is better)\n", b/d}'
else
  echo "dockerd not installed (apt-get install docker.io): no ratio"
fi
