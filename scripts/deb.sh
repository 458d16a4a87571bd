#!/usr/bin/env bash
# Builds the Debian package of one architecture's static rinit, and prints
# its path:
#
#     scripts/deb.sh BINARY DEBIAN-ARCH OUTDIR    # OUTDIR/rinit_VERSION-1_ARCH.deb
#
# With dpkg-deb alone (no source package, no debhelper: the binary is
# already built, by scripts/build.sh). The package holds /usr/bin/rinit, the
# man page, the licence in Debian's copyright format, the project's
# CHANGELOG.md (changelog.gz) and a Debian changelog for the packaging
# (changelog.Debian.gz; hence the Debian revision -1 after the version), and
# one lintian override: the binary is static on purpose (it is PID 1 of
# images with no libc at all), which lintian otherwise reports as an error.
#
# Reproducible: every date is SOURCE_DATE_EPOCH, else the last commit's.
# The maintainer is RINIT_DEB_MAINTAINER ("Name <address>"), else the last
# commit's author.
set -euo pipefail
cd "$(dirname "$0")/.."
usage="usage: scripts/deb.sh BINARY DEBIAN-ARCH OUTDIR"
bin=${1:?$usage}
arch=${2:?$usage}
out=${3:?$usage}
[ -f "$bin" ] || { echo "deb.sh: no binary at $bin" >&2; exit 1; }
# shellcheck source=scripts/arches.sh
. scripts/arches.sh
rinit_row "$arch" >/dev/null

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml)-1"
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
maintainer=${RINIT_DEB_MAINTAINER:-$(git log -1 --format='%an <%ae>' 2>/dev/null || true)}
case "$maintainer" in
    *" <"*@*">") ;;
    *) echo "deb.sh: no maintainer: set RINIT_DEB_MAINTAINER='Name <address>'" >&2; exit 1 ;;
esac

root=$(mktemp -d "${TMPDIR:-/tmp}/rinit-deb.XXXXXX")
trap 'rm -rf "$root"' EXIT
doc=$root/usr/share/doc/rinit
install -d "$root/DEBIAN" "$root/usr/bin" "$root/usr/share/man/man1" "$doc" "$root/usr/share/lintian/overrides"
install -m 755 "$bin" "$root/usr/bin/rinit"
# gzip -n: no name or time stamp in the header (lintian asks for -9n).
gzip -9nc doc/rinit.1 > "$root/usr/share/man/man1/rinit.1.gz"
gzip -9nc CHANGELOG.md > "$doc/changelog.gz"

# The licence, as Debian's machine-readable copyright format wants it: the
# MIT text (Debian calls it Expat), each line indented, blank ones as " .".
holder=$(sed -n 's/^Copyright (c) //p' LICENSE | head -n 1)
{
    echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
    echo "Upstream-Name: rinit"
    echo
    echo "Files: *"
    echo "Copyright: $holder"
    echo "License: Expat"
    echo
    echo "License: Expat"
    sed -n '/^Permission is hereby granted/,$p' LICENSE | sed 's/^$/./; s/^/ /'
} > "$doc/copyright"

{
    echo "rinit ($version) unstable; urgency=medium"
    echo
    echo "  * rinit $version: the static binary of scripts/build.sh, packaged by"
    echo "    scripts/deb.sh (the project's changes are in changelog.gz)."
    echo
    echo " -- $maintainer  $(LC_ALL=C date -u -R -d "@$epoch")"
} | gzip -9n > "$doc/changelog.Debian.gz"

# Static by design: rinit runs as PID 1 in FROM-scratch images, where there
# is no libc to link against (tini's Debian package tini-static is the same).
echo "rinit: statically-linked-binary [usr/bin/rinit]" > "$root/usr/share/lintian/overrides/rinit"

# Sizes in KiB, as dpkg counts them (what Installed-Size means).
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<EOF
Package: rinit
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Section: admin
Priority: optional
Description: tiny static init for containers that shuts them down gracefully
 rinit runs as PID 1 of a container: it starts the program, forwards every
 signal to it and reaps every zombie, like tini, dumb-init and catatonit.
 Unlike them, when the container is stopped it sends SIGTERM to every
 process in it, not only the program, waits a grace period, and SIGKILLs
 only what is left, naming it. It also reports processes the kernel killed
 for lack of memory.
 .
 One static binary with no dependencies, usable as Docker's or Podman's
 --init (init-path) or as an image's ENTRYPOINT.
EOF
(cd "$root" && find usr -type f -print0 | sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"

find "$root" -type d -exec chmod 755 {} +
find "$root" -type f ! -path "$root/usr/bin/rinit" -exec chmod 644 {} +
find "$root" -exec touch -h -d "@$epoch" {} +
mkdir -p "$out"
deb="$out/rinit_${version}_$arch.deb"
SOURCE_DATE_EPOCH=$epoch dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
