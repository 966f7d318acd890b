#!/usr/bin/env bash
# Set up .venv from the lock (every device family) and run the simulated store:
# `scripts/demo.sh [--seconds N] [--video FILE]`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/venv.sh all
exec .venv/bin/storegw demo "$@"
