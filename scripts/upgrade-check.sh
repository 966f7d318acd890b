#!/usr/bin/env bash
# Try the newest versions pyproject.toml's ranges allow, without touching the lock or .venv:
# a scratch venv (.venv-upgrade) gets `pip install --upgrade '.[test]'` from the index, the versions
# that differ from the lock are listed, then ruff and the whole test suite run in it.
#   scripts/upgrade-check.sh [pytest args]
# Not part of the default test run: upgrades are deliberate. When it passes (after fixing what it
# found), `scripts/lock.sh --upgrade` moves the lock and CHANGELOG.md says what changed and why.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${STOREGW_PYTHON:-python3}
rm -rf .venv-upgrade
"$python" -m venv .venv-upgrade
.venv-upgrade/bin/python -m pip install -q --disable-pip-version-check --upgrade pip setuptools
PYTHONWARNINGS="ignore:Editable installation" .venv-upgrade/bin/python -m pip install -q --disable-pip-version-check \
  --upgrade --upgrade-strategy eager -e '.[test]'
echo "versions that differ from the lock (requirements/test.txt):"
.venv-upgrade/bin/python - <<'PY'
import sys
from importlib import metadata
from packaging.markers import Marker
sys.path.insert(0, "scripts")
from bundle import read_locked
changed = 0
for entry in read_locked(__import__("pathlib").Path("requirements/test.txt")):
    if entry.marker and not Marker(entry.marker).evaluate():
        continue  # locked for another Python or machine
    try:
        now = metadata.version(entry.name)
    except metadata.PackageNotFoundError:
        continue
    if now != entry.version:
        changed += 1
        print(f"  {entry.name}: {entry.version} -> {now}")
print(f"  ({changed} changed)" if changed else "  none: the lock is already the newest")
PY
if command -v npm >/dev/null 2>&1 && [ -f tools/asyncapi/package-lock.json ]; then
  npm ci --prefix tools/asyncapi --no-audit --no-fund --silent
fi
.venv-upgrade/bin/ruff check .
# the lock tests compare this venv with the lock: here they are expected to differ
exec .venv-upgrade/bin/pytest -q -p no:cacheprovider --deselect tests/integration/release/test_lock.py::test_this_venv_holds_exactly_the_locked_test_profile "$@"
