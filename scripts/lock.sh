#!/usr/bin/env bash
# Refresh the lock: `scripts/lock.sh` re-resolves only what pyproject.toml changed;
# `scripts/lock.sh --upgrade` moves every package to the newest version the ranges allow.
#
# uv.lock is the one lock (every extra, CPython 3.11 and 3.12, Linux x86_64 and aarch64, sha256 of
# every file). requirements/*.txt are exported from it so that plain pip on a box can install
# with --require-hashes and no uv. Commit all of them together with the pyproject.toml change.
set -euo pipefail
cd "$(dirname "$0")/.."
# the locked uv of the test venv (scripts/venv.sh test), so every refresh writes the same format
if [ -x .venv/bin/uv ]; then uv() { .venv/bin/uv "$@"; }; fi
command -v uv >/dev/null || [ -x .venv/bin/uv ] || { echo "uv is needed: run scripts/venv.sh test first" >&2; exit 2; }
uv lock "$@"
export_profile() {  # name, then uv export selection flags
  local name=$1; shift
  uv export --frozen --format requirements.txt --no-emit-project --no-dev "$@" -o "requirements/$name.txt" >/dev/null
}
mkdir -p requirements
export_profile build --only-group build
export_profile base
for extra in rfid ble vision demo all test; do
  export_profile "$extra" --extra "$extra"
done
echo "lock refreshed: uv.lock and requirements/*.txt"
