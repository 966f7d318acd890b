#!/usr/bin/env bash
# Set up .venv from the lock (test profile) and run every test (unit, integration, firmware conformance).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/venv.sh test
if command -v npm >/dev/null; then npm ci --prefix tools/asyncapi --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null || echo "npm ci --prefix tools/asyncapi failed: the AsyncAPI contract test will fail" >&2; fi
.venv/bin/ruff check .
exec .venv/bin/pytest -q -p no:cacheprovider "$@"
