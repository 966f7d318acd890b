#!/usr/bin/env bash
# Set up a venv with the test extras and run every test (unit, integration, firmware conformance).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[test]'
.venv/bin/ruff check .
exec .venv/bin/pytest -q -p no:cacheprovider "$@"
