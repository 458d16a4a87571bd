#!/usr/bin/env bash
# Installs zig (the `ziglang` package from PyPI) into a virtual environment
# under target/zig, for scripts/build.sh's targets that link with zig, and
# prints the path of that environment's python. Quick when already there.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$PWD/target/zig
if ! "$venv/bin/python" -m ziglang version >/dev/null 2>&1; then
    echo "scripts/zig-setup.sh: installing zig from PyPI into $venv" >&2
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check ziglang >&2
fi
echo "$venv/bin/python"
