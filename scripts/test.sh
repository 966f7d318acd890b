#!/usr/bin/env bash
# Set up .venv from the lock (test profile) and run every test (unit, integration, firmware conformance).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/venv.sh test
if command -v npm >/dev/null; then npm ci --prefix tools/asyncapi --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null || echo "npm ci --prefix tools/asyncapi failed: the AsyncAPI contract test will fail" >&2; fi
.venv/bin/ruff check .
# two workers (pytest-xdist), a test file each: most integration tests wait on brokers and devices, so two
# run side by side on 2 cores; every test starts its own peers on free ports. STOREGW_TEST_WORKERS=0: one process
exec .venv/bin/pytest -q -p no:cacheprovider -n "${STOREGW_TEST_WORKERS:-2}" --dist loadfile "$@"
