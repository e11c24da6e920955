#!/usr/bin/env bash
# Builds the workspace and runs every test: unit tests and the end-to-end tests in tests/ (real
# docker-registry, real berthd, real docker CLI). Needs root (mounts, namespaces, cgroups).
#
#   scripts/test.sh                      # everything
#   scripts/test.sh -p berth-tests       # extra arguments go to `cargo test`
#   scripts/test.sh --test harness       #   e.g. one test file
#
# Installs the apt packages of scripts/apt-packages that are missing (so it works on a fresh
# Debian 12 by itself), builds the binaries first (the end-to-end tests run target/<profile>/berthd),
# then runs `cargo test` with 2 jobs and 2 test threads.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null && [[ -x $HOME/.cargo/bin/cargo ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

./scripts/apt-install.sh

echo "--- toolchain and test dependencies" >&2
{
    cargo --version
    docker --version
    runc --version | head -1
    crun --version | head -1
    /usr/bin/docker-registry --version
    /bin/busybox | head -1
    uname -r
} >&2 || true

# The desktop frontend: its unit and component tests, and the build the app loads.
if [[ -f ui/package.json ]]; then
    if ! command -v npm >/dev/null; then
        echo "scripts/test.sh: installing nodejs npm" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
    fi
    echo "--- ui: npm ci, build, contract types, check, lint, test" >&2
    # The build first: src-tauri's build script embeds ui/dist.
    (cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run build)
    # ui/src/lib/bindings is generated from the Rust types (src-tauri/src/bindings.rs): regenerate
    # it and fail when that changes a committed file. Built as the full run below builds (all of
    # the workspace, so the same features; not incremental in CI), which then reuses it.
    (
        [[ ${CI:-} == true ]] && export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
        cargo test -j2 --workspace --lib --quiet export_bindings
    )
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1 &&
        [[ -n $(git status --porcelain -- ui/src/lib/bindings) ]]; then
        git status --short -- ui/src/lib/bindings >&2
        git --no-pager diff --stat -- ui/src/lib/bindings >&2
        echo "scripts/test.sh: ui/src/lib/bindings is out of date with the Rust types:" \
            "commit what \`cargo test -p berth-desktop --lib export_bindings\` wrote" >&2
        exit 1
    fi
    # check = svelte-check (types, a11y, warnings fail); lint = ESLint, then Prettier --check.
    (cd ui && npm run check && npm run lint && npm test)
fi

# tauri-driver: the WebDriver front the desktop end-to-end test talks to (it starts
# WebKitWebDriver, which launches the app). From crates.io, pinned by its own lock file.
if ! command -v tauri-driver >/dev/null; then
    echo "scripts/test.sh: cargo install tauri-driver" >&2
    cargo install --locked -j2 --quiet tauri-driver@2.1.0
fi

# docker-py (the Python SDK) for tests/tests/docker_py.rs: a venv from PyPI, pinned by
# tests/py/requirements.txt, remade when that file changes.
pyenv=${CARGO_TARGET_DIR:-$PWD/target}/pyenv
if ! cmp -s tests/py/requirements.txt "$pyenv/requirements.txt" 2>/dev/null; then
    echo "--- docker-py venv ($pyenv)" >&2
    rm -rf "$pyenv"
    python3 -m venv "$pyenv"
    "$pyenv/bin/pip" install -q --disable-pip-version-check -r tests/py/requirements.txt
    cp tests/py/requirements.txt "$pyenv/requirements.txt"
fi
export BERTH_PYTHON=$pyenv/bin/python

# A CI run builds once from a clean clone: incremental caches would only cost disk and time.
[[ ${CI:-} == true ]] && export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
# Gates: formatting and clippy (with the workspace's [workspace.lints]) fail the run before any
# test does.
echo "--- cargo fmt --check, cargo clippy -D warnings" >&2
cargo fmt --all -- --check
cargo clippy -j2 --workspace --all-targets -- -D warnings
cargo build -j2 --workspace --bins
# The Linux package (Tauri's .deb with berthd, berth, the systemd units and the VM guest):
# tests/tests/deb_package.rs installs it with dpkg, runs a container through it and purges it.
echo "--- scripts/package.sh --debug" >&2
BERTH_DEB=$(scripts/package.sh --debug)
export BERTH_DEB
export BERTHD_BIN=${BERTHD_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/debug/berthd}
export BERTH_CLI_BIN=${BERTH_CLI_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/debug/berth}
export RUST_TEST_THREADS=${RUST_TEST_THREADS:-2}
export RUST_BACKTRACE=${RUST_BACKTRACE:-1}
# A hung test must fail the run, not eat the CI budget.
limit=(timeout --signal=TERM --kill-after=30 "${BERTH_TEST_TIMEOUT:-2700}")
if [[ $# -gt 0 ]]; then
    # `--workspace` would override a `-p` given on the command line.
    scope=(--workspace)
    for arg in "$@"; do
        case $arg in -p | -p* | --package | --package=* | --workspace) scope=() ;; esac
    done
    exec "${limit[@]}" cargo test -j2 --no-fail-fast "${scope[@]}" "$@"
fi

# Everything. The cgroup v2 test boots a VM and spends ~11 minutes on one emulated CPU
# (QEMU TCG, single-threaded), mostly waiting: it runs beside the other binaries instead of
# after them. Built first, so that the two runs do not wait on each other's build lock.
echo "--- cargo test (cgroup_v2 beside the rest)" >&2
cargo test -j2 --workspace --no-run 2>&1 | grep -v "^  Executable" >&2 || true
slow_log=$(mktemp /tmp/berth-cgroup-v2-test.XXXXXX)
"${limit[@]}" cargo test -j2 --no-fail-fast -p berth-tests --test cgroup_v2 >"$slow_log" 2>&1 &
slow_pid=$!
others=()
for f in tests/tests/*.rs src-tauri/tests/*.rs; do
    name=$(basename "$f" .rs)
    [[ $name == cgroup_v2 ]] || others+=(--test "$name")
done
set +e
"${limit[@]}" cargo test -j2 --no-fail-fast --workspace --lib --bins "${others[@]}"
rc=$?
cargo test -j2 --no-fail-fast --workspace --doc
rc_doc=$?
wait "$slow_pid"
rc_slow=$?
set -e
echo "--- cgroup_v2 (ran beside the others)"
cat "$slow_log"
rm -f "$slow_log"
if [[ $rc -ne 0 || $rc_doc -ne 0 || $rc_slow -ne 0 ]]; then
    echo "scripts/test.sh: failed (others: $rc, doc: $rc_doc, cgroup_v2: $rc_slow)" >&2
    exit 1
fi
