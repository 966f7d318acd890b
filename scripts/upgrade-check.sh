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
.venv-upgrade/bin/python -m pip install -q --disable-pip-version-check --upgrade --upgrade-strategy eager -e '.[test]'
echo "versions that differ from the lock (requirements/test.txt):"
.venv-upgrade/bin/python - <<'PY'
import re, sys
from importlib import metadata
locked = dict(re.findall(r"^([A-Za-z0-9._-]+)==(\S+)", open("requirements/test.txt").read(), re.M))
changed = 0
for name, version in sorted(locked.items()):
    try:
        now = metadata.version(name)
    except metadata.PackageNotFoundError:
        continue
    if now != version:
        changed += 1
        print(f"  {name}: {version} -> {now}")
print(f"  ({changed} changed)" if changed else "  none: the lock is already the newest")
PY
if command -v npm >/dev/null 2>&1 && [ -f tools/asyncapi/package-lock.json ]; then
  npm ci --prefix tools/asyncapi --no-audit --no-fund --silent
fi
.venv-upgrade/bin/ruff check .
# the lock tests compare this venv with the lock: here they are expected to differ
exec .venv-upgrade/bin/pytest -q -p no:cacheprovider --deselect tests/test_lock.py::test_this_venv_holds_exactly_the_locked_test_profile "$@"
