#!/usr/bin/env bash
# Set up .venv from the lock (test profile) and run every test (unit, integration, firmware conformance).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/venv.sh test
.venv/bin/ruff check .
exec .venv/bin/pytest -q -p no:cacheprovider "$@"
