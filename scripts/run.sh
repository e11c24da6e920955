#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (as root) and runs Berth.
#
#   scripts/run.sh                 # with a display: the desktop app (it starts the engine)
#                                  # without one: the engine in the foreground
#   scripts/run.sh --engine-only [berthd flags...]
#
# The engine listens on unix://$BERTH_SOCKET (default /run/berth.sock) with its data in
# $BERTH_DATA_ROOT (default /var/lib/berth); the script prints the DOCKER_HOST to use with the
# unmodified docker CLI. It also builds `berth`, Berth's own command line, and installs it in
# $BERTH_BIN_DIR (default /usr/local/bin).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null && [[ -x $HOME/.cargo/bin/cargo ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

engine_only=false
if [[ ${1:-} == --engine-only ]]; then
    engine_only=true
    shift
fi
if [[ -z ${DISPLAY:-} && -z ${WAYLAND_DISPLAY:-} ]]; then
    if ! $engine_only; then
        echo "scripts/run.sh: no display (DISPLAY/WAYLAND_DISPLAY unset): running the engine only." >&2
        echo "  The desktop app needs a graphical session: run this script from one (or with" >&2
        echo "  ssh -X), or use the docker CLI against the engine as printed below." >&2
    fi
    engine_only=true
fi

# busybox-static: the built-in welcome image is made from it at build time; nftables and
# iproute2: container networking. The desktop adds WebKitGTK and the tray's libraries, and node
# to build its UI.
packages=(runc crun busybox-static nftables iproute2 iptables)
if ! $engine_only; then
    packages+=(libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev
        libsoup-3.0-dev pkg-config build-essential)
fi
need=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || need+=("$p")
done
$engine_only || command -v npm >/dev/null || need+=(nodejs npm)
if ((${#need[@]})); then
    echo "scripts/run.sh: installing ${need[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

DATA_ROOT=${BERTH_DATA_ROOT:-/var/lib/berth}
SOCK=${BERTH_SOCKET:-/run/berth.sock}
BIN_DIR=${BERTH_BIN_DIR:-/usr/local/bin}

# The CLI is built with the engine and installed on PATH (berth finds /run/berth.sock by
# itself; another socket goes in BERTH_HOST).
install_cli() {
    install -D -m 0755 target/release/berth "$BIN_DIR/berth"
    echo "berth installed in $BIN_DIR/berth (try: berth run -d --name welcome -p 8080:80 berth/welcome)"
    [[ $SOCK == /run/berth.sock ]] || echo "  for this socket:  export BERTH_HOST=unix://$SOCK"
}

if $engine_only; then
    cargo build --release -j2 -p berth-engine -p berth-cli
    install_cli
    echo "Berth engine starting. In another shell:  export DOCKER_HOST=unix://$SOCK"
    exec ./target/release/berthd --data-root "$DATA_ROOT" -H "unix://$SOCK" "$@"
fi

# The UI is embedded in the app: rebuild it (and so the app) only when its sources changed.
if [[ ! -f ui/dist/index.html ]] ||
    [[ -n $(find ui/src ui/index.html ui/package-lock.json ui/vite.config.ts \
        -newer ui/dist/index.html -print -quit) ]]; then
    (cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run build)
fi
cargo build --release -j2 -p berth-engine -p berth-desktop -p berth-cli
install_cli
echo "Berth desktop starting; it starts the engine (its log: Troubleshoot in the app)."
echo "The docker CLI works alongside it:  export DOCKER_HOST=unix://$SOCK"
export BERTHD_BIN=$PWD/target/release/berthd BERTH_DATA_ROOT=$DATA_ROOT BERTH_HOST=unix://$SOCK
exec ./target/release/berth-desktop "$@"
