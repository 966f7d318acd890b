"""`storegw camera staff-sample`: the real detector on a real clip; the uniform saved as numbers only."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.camera import CAMPUS_CLIP, camera_verb
from tests.support.paths import REPO_ROOT

CLIP = CAMPUS_CLIP
needs_clip = pytest.mark.skipif(not CLIP.exists(), reason="evaluation clip not present")


def staff_sample(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the verb on a one-camera config reading the clip (read-only, never copied)."""
    return camera_verb(tmp_path, "staff-sample", "door-cam", *args)


@needs_clip
def test_the_person_in_the_box_is_sampled_as_numbers_only(tmp_path: Path) -> None:
    # in the clip's first second one man stands alone at the left (x 63-145, y 153-441)
    result = staff_sample(tmp_path, "--box", "40,130,170,460", "--seconds", "2", "--name", "grey-coat")
    assert result.returncode == 0, result.stderr
    assert "uniform 'grey-coat' of camera door-cam saved" in result.stdout
    assert "closest other person seen" in result.stdout
    path = tmp_path / "data" / "staff" / "door-cam.json"
    assert stat.S_IMODE(os.stat(path).st_mode) & 0o007 == 0, "not readable by others"
    assert path.stat().st_size < 1000, "a few numbers, never an image"
    (uniform,) = json.loads(path.read_text())["uniforms"]
    assert uniform["name"] == "grey-coat" and uniform["frames"] >= 5
    assert len(uniform["signature"]) == 36 and all(isinstance(v, float) for v in uniform["signature"])
    assert os.listdir(tmp_path / "data" / "staff") == ["door-cam.json"]


@needs_clip
@pytest.mark.parametrize(("box", "expected"), [("560,0,640,60", "no person was found in the box"),
                                               (None, "several people were in the box")])
def test_nobody_or_several_people_in_the_box_is_a_clear_error(tmp_path: Path, box: str | None, expected: str) -> None:
    result = staff_sample(tmp_path, *(["--box", box] if box else []), "--seconds", "1")
    assert result.returncode == 1 and expected in result.stderr, result.stderr
    assert not (tmp_path / "data" / "staff" / "door-cam.json").exists()


def test_an_unknown_camera_or_a_bad_box_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[gateway]\nstore_id = "s"\ngateway_id = "g"\n[mqtt]\nurl = "mqtt://h"\n')
    run = [sys.executable, "-m", "gateway.cli.main", "camera", "staff-sample"]
    unknown = subprocess.run([*run, "nope", "--config", str(config)], capture_output=True, text=True,
                             cwd=REPO_ROOT, timeout=60)
    assert unknown.returncode == 2 and "no camera 'nope'" in unknown.stderr
    bad = subprocess.run([*run, "nope", "--box", "10,10,5,5", "--config", str(config)], capture_output=True,
                         text=True, cwd=REPO_ROOT, timeout=60)
    assert bad.returncode == 2 and "x1 < x2" in bad.stderr
