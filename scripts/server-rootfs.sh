#!/usr/bin/env bash
# Builds the root filesystem of the real-server image (Redis, PostgreSQL,
# nginx from Debian's packages) with mmdebstrap, as a tarball for
# `docker import`, and prints its path. The tarball is cached under
# target/server-rootfs/, named by a hash of this script (which holds the
# package list) and the Debian release: a changed list or script rebuilds it,
# anything else reuses it.
#
#     scripts/server-rootfs.sh        # prints target/server-rootfs/<hash>.tar
#
# The mirror is the one this machine's apt uses (the Debian entries of
# `apt-cache policy`, whatever file or format configures them): no host is
# named here. Exit status 3 means the package archive cannot be reached (or
# none is configured): callers skip instead of failing.
set -euo pipefail
cd "$(dirname "$0")/.."

# redis-tools: redis-cli, the client the tests run inside the container.
# curl: the throttled client of the nginx scenario, also run inside.
packages=(redis-server redis-tools postgresql nginx-light curl procps)
unreachable=3

# shellcheck source=/dev/null
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$codename" ] || { echo "server-rootfs.sh: /etc/os-release names no Debian release" >&2; exit 1; }

key=$( { cat "$0"; echo "$codename"; } | sha256sum | cut -c1-16)
cache=target/server-rootfs
tarball=$cache/$key.tar
mkdir -p "$cache"
# One build at a time (a test run and the demo may both ask).
exec 9>"$cache/.lock"
flock 9
if [ -s "$tarball" ]; then
    echo "$tarball"
    exit 0
fi

# apt's own view of its sources (sources.list, .list and deb822 .sources
# files alike): the entries whose Release file says Origin Debian, for this
# release and its -updates/-security suites.
debian_sources() {
    apt-cache policy | awk -v rel="$codename" '
        /^ *[0-9]+ [a-z+]+:\/\// { uri = $2; split($3, sc, "/"); suite = sc[1]; comp = sc[2]; next }
        /^ *release / {
            if (uri != "" && $0 ~ /(^|[ ,])o=Debian(,|$)/ && (suite == rel || index(suite, rel "-") == 1))
                print "deb " uri " " suite " " comp
            uri = ""
        }' | sort -u
}
mapfile -t sources < <(debian_sources)
# Release files are only known after an update (a fresh image may have none).
if [ "${#sources[@]}" -eq 0 ] && [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq >&2 || true
    mapfile -t sources < <(debian_sources)
fi
if [ "${#sources[@]}" -eq 0 ]; then
    echo "server-rootfs.sh: apt has no Debian source for $codename (apt-get update first?)" >&2
    exit "$unreachable"
fi
command -v mmdebstrap >/dev/null || { echo "server-rootfs.sh: no mmdebstrap; install it (scripts/setup.sh)" >&2; exit 1; }

tmp=$(mktemp "$cache/building.XXXXXX.tar")
log=$(mktemp)
trap 'rm -f "$tmp" "$log"' EXIT
echo "server-rootfs.sh: building the root filesystem ($key) with mmdebstrap, once" >&2
# essential + the servers: no apt, no recommends, no documentation, and
# not the 130 MB of LLVM (and its z3) that only PostgreSQL's JIT loads, on
# demand: without them PostgreSQL runs with jit unavailable.
if ! mmdebstrap --variant=essential --include="$(IFS=,; echo "${packages[*]}")" \
        --aptopt='APT::Install-Recommends "false"' \
        --dpkgopt='path-exclude=/usr/lib/*/libLLVM-*' \
        --dpkgopt='path-exclude=/usr/lib/*/libz3.so*' \
        --dpkgopt='path-exclude=/usr/lib/postgresql/*/lib/llvmjit*' \
        --dpkgopt='path-exclude=/usr/lib/postgresql/*/lib/bitcode/*' \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        "$codename" "$tmp" "${sources[@]}" 2>"$log"; then
    tail -n 20 "$log" >&2
    # The index download is the first thing that needs the archive.
    if grep -qE 'apt-get update .*failed|Failed to fetch|Could not resolve|Unable to connect' "$log"; then
        echo "server-rootfs.sh: the Debian package archive cannot be reached" >&2
        exit "$unreachable"
    fi
    exit 1
fi
# Older keys' tarballs, and what a killed build left, are of no more use.
find "$cache" -maxdepth 1 -name '*.tar' ! -path "$tmp" -delete
mv "$tmp" "$tarball"
echo "$tarball"
