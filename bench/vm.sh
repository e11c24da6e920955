#!/usr/bin/env bash
# The engine in a VM (berth-vm, QEMU) next to the native engine:
#   - time from `berth-vm start` to the engine answering /_ping through the host socket, for a
#     first boot (new data disk: format + welcome image) and a second one; the acceleration
#     used is printed (TCG on machines whose KVM boots no stock kernel);
#   - /_ping and /containers/json round trips through the forwarded socket vs the native
#     engine's socket (median of N curl requests, ms);
#   - throughput of a published port, host -> container (busybox nc as the sink on both sides),
#     SIZE_MB of zeros, MB/s.
# Uses the debug binaries (a release build of the workspace is too heavy for shared machines;
# BERTH_BENCH_PROFILE=release if you have built one). Needs root, qemu-system-x86, qemu-utils,
# docker-registry, curl, python3.
#
#   bench/vm.sh [N] [SIZE_MB]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-50}
SIZE_MB=${2:-64}
profile=${BERTH_BENCH_PROFILE:-debug}
target=${CARGO_TARGET_DIR:-$PWD/target}
bin=$target/$profile

release=()
[[ $profile == release ]] && release=(--release)
cargo build -j2 "${release[@]}" -p berth-engine -p berth-vm --bins >/dev/null
guest=$(scripts/vm-guest.sh "$bin/berthd" "$bin/berth-vm-agent")

work=$(mktemp -d /tmp/berth-bench-vm.XXXXXX)
pids=()
cleanup() {
    "$bin/berth-vm" --dir "$work/vm" stop --timeout 30 >/dev/null 2>&1 || true
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for _ in $(seq 50); do
        alive=0
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [[ $alive == 0 ]] && break
        sleep 0.2
    done
    grep " $work" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    ip link del bvmbench0 2>/dev/null || true
    nft delete table ip "berth_$(printf '%s' "$work/native" | sha256sum | cut -c1-8)" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$2"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# A registry on the host's loopback with the fixture images.
reg_port=$(free_port)
REGISTRY=127.0.0.1:$reg_port
cat >"$work/registry.yml" <<YML
version: 0.1
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: $REGISTRY
YML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -fs "http://$REGISTRY/v2/" >/dev/null && break; sleep 0.1; done
tests/fixtures/build-images.sh "$REGISTRY"

# The native engine.
"$bin/berthd" --data-root "$work/native" -H "unix://$work/native.sock" --bridge bvmbench0 \
    --bip 10.197.0.1/24 --default-address-pool base=10.197.128.0/17,size=24 \
    >"$work/native.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do [[ -S $work/native.sock ]] && break; sleep 0.1; done

# The VM: first and second boot.
start_vm() {
    "$bin/berth-vm" --dir "$work/vm" start --guest "$guest" --share "$work" \
        --network restricted --host-port "$reg_port" \
        --insecure-registry "host.docker.internal:$reg_port" >/dev/null
}
t0=$(now); start_vm; t1=$(now)
first=$(elapsed "$t0" "$t1")
"$bin/berth-vm" --dir "$work/vm" stop >/dev/null
t0=$(now); start_vm; t1=$(now)
second=$(elapsed "$t0" "$t1")
accel=$(grep -o 'booting the engine VM with [a-z]*' "$work/vm/berth-vm.log" | tail -1 | awk '{print $NF}')
guest_ready=$(grep -o '\[[0-9.]*\] engine socket up' "$work/vm/console.log" | tail -1 | tr -d '[]' | awk '{print $1}')

rtt() { # $1 = socket, $2 = path: median ms of N requests
    for _ in $(seq "$N"); do
        curl -s -o /dev/null -w '%{time_total}\n' --unix-socket "$1" "http://engine$2"
    done | awk '{print $1 * 1000}' | median
}
vm_sock=$work/vm/docker.sock
native_sock=$work/native.sock

# Published-port throughput: a busybox nc sink in a container, zeros from the host.
throughput() { # $1 = socket, $2 = image: MB/s
    local port id
    port=$(free_port)
    id=$(DOCKER_HOST=unix://$1 docker run -d -p "$port:5001" "$2" sh -c 'nc -l -p 5001 >/dev/null')
    python3 - "$port" "$SIZE_MB" <<'PY'
import socket, sys, time
port, size = int(sys.argv[1]), int(sys.argv[2]) << 20
chunk = bytes(1 << 20)
deadline = time.monotonic() + 120
while True:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        break
    except OSError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.1)
t0 = time.monotonic()
sent = 0
while sent < size:
    s.sendall(chunk)
    sent += len(chunk)
s.shutdown(socket.SHUT_WR)
s.settimeout(300)
while s.recv(65536):
    pass
print(f"{size / (time.monotonic() - t0) / 1e6:.1f}")
PY
    DOCKER_HOST=unix://$1 docker rm -f "$id" >/dev/null
}
DOCKER_HOST=unix://$vm_sock docker pull -q "host.docker.internal:$reg_port/busybox:latest" >/dev/null
DOCKER_HOST=unix://$native_sock docker pull -q "$REGISTRY/busybox:latest" >/dev/null

printf 'acceleration: %s\n' "${accel:-?}"
printf 'start -> /_ping answered: first boot %ss, second boot %ss (guest clock at engine socket up: %ss)\n' \
    "$first" "$second" "${guest_ready:-?}"
printf '%-22s %10s %10s\n' "" "vm" "native"
printf '%-22s %10s %10s\n' "/_ping ms" "$(rtt "$vm_sock" /_ping)" "$(rtt "$native_sock" /_ping)"
printf '%-22s %10s %10s\n' "/containers/json ms" "$(rtt "$vm_sock" /containers/json)" "$(rtt "$native_sock" /containers/json)"
printf '%-22s %10s %10s\n' "published port MB/s" \
    "$(throughput "$vm_sock" "host.docker.internal:$reg_port/busybox:latest")" \
    "$(throughput "$native_sock" "$REGISTRY/busybox:latest")"
