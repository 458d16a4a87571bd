#!/usr/bin/env bash
# Builds the root filesystem of the real-server image (Redis, PostgreSQL,
# nginx from Debian's packages) with mmdebstrap, as a tarball for
# `docker import`, and prints its path. Built once by
# scripts/debian-rootfs.sh and cached under target/server-rootfs/: a changed
# package list rebuilds it, anything else reuses it.
#
#     scripts/server-rootfs.sh        # prints target/server-rootfs/<hash>.tar
#
# Exit status 3 means the package archive cannot be reached (or none is
# configured): callers skip instead of failing.
set -euo pipefail
cd "$(dirname "$0")/.."

# redis-tools: redis-cli, the client the tests run inside the container.
# curl: the throttled client of the nginx scenario, also run inside.
packages=(redis-server redis-tools postgresql nginx-light curl procps)

# essential + the servers: no apt, no recommends, no documentation, and
# not the 130 MB of LLVM (and its z3) that only PostgreSQL's JIT loads, on
# demand: without them PostgreSQL runs with jit unavailable.
exec scripts/debian-rootfs.sh server-rootfs \
    --variant=essential --include="$(IFS=,; echo "${packages[*]}")" \
    --aptopt='APT::Install-Recommends "false"' \
    --dpkgopt='path-exclude=/usr/lib/*/libLLVM-*' \
    --dpkgopt='path-exclude=/usr/lib/*/libz3.so*' \
    --dpkgopt='path-exclude=/usr/lib/postgresql/*/lib/llvmjit*' \
    --dpkgopt='path-exclude=/usr/lib/postgresql/*/lib/bitcode/*' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*'
