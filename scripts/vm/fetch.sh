#!/usr/bin/env bash
# Fetches what the VM tests boot, into a cache of their own (argument 1,
# default target/vm), without installing anything on the machine:
#   - Debian's cloud kernel (cgroup v2, pids and memory controllers built in);
#   - qemu-system-x86_64 with SeaBIOS and QEMU's option ROMs, and those of its
#     shared libraries that this machine lacks.
# Packages come through `apt-get download` from the machine's own apt sources
# and are unpacked with `dpkg-deb -x`. `apt-get install qemu-system-x86` is
# avoided on purpose: it conflicts with a newer qemu-utils (as on the
# development machine). Idempotent: a stamp file marks a complete cache.
# Prints the cache directory on success.
set -euo pipefail
cache="$(realpath -m "${1:-target/vm}")"
stamp="$cache/complete"
# The loop device driver, for the cache-at-limit scenario: taken from the
# kernel package already fetched (a cache made before it was wanted too).
loop_module() {
    local deb
    deb=$(ls "$cache"/debs/linux-image-*.deb 2>/dev/null | head -n1)
    [ -n "$deb" ] || return 0
    dpkg-deb --fsys-tarfile "$deb" | tar -x -O --wildcards './lib/modules/*/kernel/drivers/block/loop.ko' > "$cache/loop.ko.part" &&
        mv "$cache/loop.ko.part" "$cache/loop.ko"
}
if [ -e "$stamp" ]; then
    [ -e "$cache/loop.ko" ] || loop_module
    echo "$cache"
    exit 0
fi
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || {
    echo "fetch.sh: needs apt-get and dpkg-deb (a Debian machine)" >&2
    exit 1
}
debs="$cache/debs"
root="$cache/root"
rm -rf "$root"
mkdir -p "$debs" "$root"

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
depends() { apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances "$1" 2>/dev/null | sed -n 's/^ *Depends: \([^<> ]*\).*/\1/p'; }

# A fresh machine may have no package lists yet.
apt-cache show linux-image-cloud-amd64 >/dev/null 2>&1 || apt-get update -qq >&2
# The kernel: the metapackage names the current versioned image.
kernel=$(depends linux-image-cloud-amd64 | grep '^linux-image-' | head -n1)
[ -n "$kernel" ] || { echo "fetch.sh: apt knows no linux-image-cloud-amd64 (run apt-get update?)" >&2; exit 1; }

# qemu and, transitively, whatever of its dependencies is not installed here.
# qemu-system-common holds the TCG accelerator module.
want=(qemu-system-x86 qemu-system-common qemu-system-data seabios "$kernel")
declare -A seen=()
queue=(qemu-system-x86)
while [ "${#queue[@]}" -gt 0 ]; do
    pkg="${queue[0]}"
    queue=("${queue[@]:1}")
    for dep in $(depends "$pkg"); do
        [ -z "${seen[$dep]:-}" ] || continue
        seen[$dep]=1
        case "$dep" in
            qemu-system-common|ipxe-qemu|qemu-system-data|seabios) continue ;;  # not needed for -kernel with -nic none, or already wanted
        esac
        if ! installed "$dep"; then
            want+=("$dep")
            queue+=("$dep")
        fi
    done
done

cd "$debs"
apt-get download -q "${want[@]}" >&2 2>&1 || {
    # The package lists may be stale on a fresh machine.
    apt-get update -qq >&2
    apt-get download -q "${want[@]}" >&2
}
for deb in "$debs"/*.deb; do
    case "$(basename "$deb")" in
        # Only the image itself: its 100 MB of modules are not needed.
        linux-image-*) dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$root" --wildcards './boot/vmlinuz-*' ;;
        *) dpkg-deb -x "$deb" "$root" ;;
    esac
done
vmlinuz=$(ls "$root"/boot/vmlinuz-* | head -n1)
ln -sf "$vmlinuz" "$cache/vmlinuz"
loop_module
touch "$stamp"
echo "$cache"
