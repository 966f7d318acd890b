#!/usr/bin/env bash
# Set up a venv and run the simulated store: `scripts/demo.sh [--seconds N] [--video FILE]`.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[all]'
exec .venv/bin/storegw demo "$@"
