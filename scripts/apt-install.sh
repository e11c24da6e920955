#!/usr/bin/env bash
# Installs the Debian packages of scripts/apt-packages that are missing (and docker.io when no
# docker CLI is on PATH). Used by .ci/run and scripts/test.sh.
#
# QEMU: some machines come with a newer qemu-utils than Debian 12's own (10.x from backports),
# which declares Breaks on Debian 12's qemu-system-common, so qemu-system-x86 cannot be installed
# beside it. qemu-img is all we use of it, so qemu-utils is then taken at the version of
# qemu-system-x86 that apt would install.
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t packages < <(grep -v '^\s*\(#\|$\)' scripts/apt-packages)
command -v docker >/dev/null || packages+=(docker.io)

installed() {
    dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'
}
version_of() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null; }

missing=()
for p in "${packages[@]}"; do
    installed "$p" || missing+=("$p")
done
((${#missing[@]})) || exit 0

echo "scripts/apt-install.sh: installing ${missing[*]}" >&2
sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
extra=()
if [[ " ${missing[*]} " == *" qemu-system-x86 "* ]] && installed qemu-utils; then
    want=$(apt-cache policy qemu-system-x86 | awk '/Candidate:/ {print $2}')
    if [[ -n $want && $want != "(none)" && $(version_of qemu-utils) != "$want" ]]; then
        echo "scripts/apt-install.sh: qemu-utils $(version_of qemu-utils) → $want" \
            "(the version of qemu-system-x86 here)" >&2
        extra=(--allow-downgrades "qemu-utils=$want")
    fi
fi
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${extra[@]}" "${missing[@]}" >/dev/null
