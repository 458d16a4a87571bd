#!/usr/bin/env bash
# Boots the VM of the VM tests once and prints its console log on stdout:
#
#   scripts/vm/run.sh CACHE RINIT scenarios=a,b,c   # scenarios run by /init
#   scripts/vm/run.sh CACHE RINIT pid1=NAME         # rinit as the VM's PID 1
#
# CACHE is what scripts/vm/fetch.sh made (kernel, qemu); RINIT a static rinit.
# The initramfs holds busybox, rinit, scripts/vm/init.sh as /init and
# scripts/vm/scenarios/. QEMU runs with TCG (no KVM needed), no network, no
# display; the kernel reboots on panic, which -no-reboot turns into QEMU's
# exit, so the boot ends when /init (or rinit as PID 1) exits.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="$1" rinit="$2" what="$3"
busybox="$(command -v busybox)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rd/bin" "$work/rd/proc" "$work/rd/sys" "$work/rd/tmp" "$work/rd/dev" "$work/rd/scenarios"
cp "$busybox" "$work/rd/bin/busybox"
cp "$rinit" "$work/rd/bin/rinit"
cp "$here/init.sh" "$work/rd/init"
cp "$here"/scenarios/*.sh "$work/rd/scenarios/"
# The loop device driver (a module of the cloud kernel), for the scenario
# that needs a block-backed filesystem (cache-at-limit).
mkdir -p "$work/rd/lib"
[ ! -e "$cache/loop.ko" ] || cp "$cache/loop.ko" "$work/rd/lib/loop.ko"
chmod +x "$work/rd/init"
(cd "$work/rd" && find . | "$busybox" cpio -o -H newc 2>/dev/null) > "$work/initrd"
root="$cache/root"
# loglevel=1: only the kernel's emergencies (the panic line) join the
# scenarios' output on the console.
QEMU_MODULE_DIR="$root/usr/lib/x86_64-linux-gnu/qemu" \
LD_LIBRARY_PATH="$root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu" \
    timeout -s KILL "${RINIT_VM_TIMEOUT:-600}" \
    "$root/usr/bin/qemu-system-x86_64" -L "$root/usr/share/seabios" -L "$root/usr/share/qemu" \
    -accel tcg -m 512 -nic none -display none -no-reboot \
    -serial "file:$work/console" -monitor none \
    -kernel "$cache/vmlinuz" -initrd "$work/initrd" \
    -append "console=ttyS0 panic=-1 loglevel=1 $what" >&2 || status=$?
cat "$work/console"
exit "${status:-0}"
