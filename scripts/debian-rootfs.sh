#!/usr/bin/env bash
# Builds a Debian root filesystem with mmdebstrap, as a tarball, once, and
# prints its path:
#
#     scripts/debian-rootfs.sh NAME [MMDEBSTRAP OPTION...]
#                                      # prints target/NAME/<hash>.tar
#
# The tarball is cached under target/NAME/, named by a hash of this script,
# the options (which hold the package list) and the Debian release: changed
# options rebuild it, anything else reuses it. scripts/server-rootfs.sh (the
# real-server image) and tests/ship.rs (the Debian package's install test)
# use it.
#
# The mirror is the one this machine's apt uses (the Debian entries of
# `apt-cache policy`, whatever file or format configures them): no host is
# named here. Exit status 3 means the package archive cannot be reached (or
# none is configured): callers skip instead of failing.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: scripts/debian-rootfs.sh NAME [MMDEBSTRAP OPTION...]}
shift
unreachable=3

# shellcheck source=/dev/null
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$codename" ] || { echo "debian-rootfs.sh: /etc/os-release names no Debian release" >&2; exit 1; }

key=$( { cat "$0"; printf '%s\n' "$@"; echo "$codename"; } | sha256sum | cut -c1-16)
cache=target/$name
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
    echo "debian-rootfs.sh: apt has no Debian source for $codename (apt-get update first?)" >&2
    exit "$unreachable"
fi
command -v mmdebstrap >/dev/null || { echo "debian-rootfs.sh: no mmdebstrap; install it (scripts/setup.sh)" >&2; exit 1; }

tmp=$(mktemp "$cache/building.XXXXXX.tar")
log=$(mktemp)
trap 'rm -f "$tmp" "$log"' EXIT
echo "debian-rootfs.sh: building the root filesystem $name ($key) with mmdebstrap, once" >&2
if ! mmdebstrap "$@" "$codename" "$tmp" "${sources[@]}" 2>"$log"; then
    tail -n 20 "$log" >&2
    # The index download is the first thing that needs the archive.
    if grep -qE 'apt-get update .*failed|Failed to fetch|Could not resolve|Unable to connect' "$log"; then
        echo "debian-rootfs.sh: the Debian package archive cannot be reached" >&2
        exit "$unreachable"
    fi
    exit 1
fi
# Older keys' tarballs, and what a killed build left, are of no more use.
find "$cache" -maxdepth 1 -name '*.tar' ! -path "$tmp" -delete
mv "$tmp" "$tarball"
echo "$tarball"
