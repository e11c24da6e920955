# Shared by the bench scripts (sourced): a temp work dir torn down on exit, a loopback registry
# with the fixture images, berthd and dockerd each on their own data root, socket and bridge.
# Needs root. Sets: work, IMAGE; functions: start_berthd, start_dockerd (they set ENGINE, not in
# a subshell, so their pids are cleaned up), median.

work=$(mktemp -d /tmp/berth-bench.XXXXXX)
pids=()
BERTH_BRIDGE=bbench0
DOCKER_BRIDGE=dbench0

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
  # Container veths vanish with their namespaces; the bridges and berthd's table stay by design.
  for l in "$BERTH_BRIDGE" "$DOCKER_BRIDGE"; do ip link del "$l" 2>/dev/null || true; done
  nft delete table ip "berth_$(printf '%s' "$work/berth" | sha256sum | cut -c1-8)" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

cargo build --release -j2 -p berth-engine >/dev/null

REGISTRY=127.0.0.1:5098
cat > "$work/registry.yml" <<YML
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
IMAGE=$REGISTRY/busybox:latest

start_berthd() { # sets ENGINE (a DOCKER_HOST); BERTH_RUNTIME=runc|crun picks the runtime
  runtime_flag=()
  [ -n "${BERTH_RUNTIME:-}" ] && runtime_flag=(--default-runtime "$BERTH_RUNTIME")
  ./target/release/berthd "${runtime_flag[@]}" --data-root "$work/berth" -H "unix://$work/berth.sock" \
    --bridge "$BERTH_BRIDGE" --bip 10.199.0.1/24 --default-address-pool base=10.199.128.0/17,size=24 \
    >"$work/berthd.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do [ -S "$work/berth.sock" ] && break; sleep 0.1; done
  ENGINE="unix://$work/berth.sock"
  DOCKER_HOST=$ENGINE docker version >/dev/null || { cat "$work/berthd.log" >&2; exit 1; }
}

# dockerd on a bridge of its own without iptables, so the host's firewall is left alone (its
# userland proxy carries published ports).
start_dockerd() { # sets ENGINE (a DOCKER_HOST)
  ip link add "$DOCKER_BRIDGE" type bridge
  ip addr add 10.198.0.1/24 dev "$DOCKER_BRIDGE"
  ip link set "$DOCKER_BRIDGE" up
  dockerd --data-root "$work/docker" -H "unix://$work/docker.sock" --pidfile "$work/docker.pid" \
    --exec-root "$work/docker-exec" --insecure-registry "$REGISTRY" --bridge "$DOCKER_BRIDGE" \
    --iptables=false >"$work/dockerd.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do DOCKER_HOST="unix://$work/docker.sock" docker version >/dev/null 2>&1 && break; sleep 0.1; done
  ENGINE="unix://$work/docker.sock"
}
