#!/usr/bin/env bash
# Create (or bring up to date) .venv with exactly the locked versions of one install profile:
# `scripts/venv.sh test` (or base, rfid, ble, vision, demo, all). Every file is checked against
# the sha256 in requirements/PROFILE.txt, exported from uv.lock by scripts/lock.sh; the project
# itself is installed editable with no dependency resolution and no build isolation, so nothing
# outside the lock is installed. STOREGW_PYTHON picks the interpreter (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:?usage: scripts/venv.sh PROFILE}
lock="requirements/$profile.txt"
[ -f "$lock" ] || { echo "no lock for profile '$profile': expected $lock" >&2; exit 2; }
python=${STOREGW_PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] <= (3, 12)))'; then
  echo "storegw's lock covers CPython 3.11 and 3.12; $python is $("$python" -V 2>&1). Set STOREGW_PYTHON." >&2
  exit 2
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
pip=(.venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes --no-deps)
"${pip[@]}" -r requirements/build.txt
"${pip[@]}" -r "$lock"
# setuptools warns on every editable install that a same-named folder may shadow the package: it is the package.
PYTHONWARNINGS="ignore:Editable installation" .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
