"""The uniform sample: one person in the box, a median of frames, saved as numbers only (mode 0640)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from gateway.devices.camera.staff_store import UniformSample, load_uniforms, save_uniform, staff_path
from gateway.pipelines.people.sample import SampleError, UniformSampler

BOX = (100.0, 50.0, 200.0, 300.0)


def sig(value: float) -> np.ndarray:
    """A flat signature."""
    return np.full(36, value, dtype=np.float32)


def test_the_median_of_the_boxed_person_and_the_nearest_customer() -> None:
    sampler = UniformSampler(BOX)
    for i in range(6):
        dets = np.array([[110, 60, 190, 290, 0.9], [400, 60, 480, 290, 0.9]], dtype=np.float32)
        sampler.feed(dets, np.stack([sig(50 + (99 if i == 0 else i % 2)), sig(90)]))
    assert np.allclose(sampler.result(), 50.5, atol=0.6), "one odd frame does not move the median"
    assert sampler.nearest_other(sampler.result()) == pytest.approx(np.sqrt(3) * 39.5, abs=1.5)


def test_nobody_or_several_people_in_the_box_are_clear_errors() -> None:
    empty = UniformSampler(BOX)
    for _ in range(10):
        empty.feed(np.array([[400, 60, 480, 290, 0.9]], dtype=np.float32), sig(1)[None])
    with pytest.raises(SampleError, match="no person was found in the box in 10 of 10 frames"):
        empty.result()
    crowded = UniformSampler(BOX)
    for _ in range(10):
        crowded.feed(np.array([[105, 60, 150, 290, 0.9], [150, 60, 195, 290, 0.9]], dtype=np.float32),
                     np.stack([sig(1), sig(2)]))
    with pytest.raises(SampleError, match="several people were in the box"):
        crowded.result()


def test_the_saved_sample_is_numbers_only_and_not_world_readable(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        save_uniform(str(tmp_path), "door-cam", UniformSample(name="red-polo", signature=[1.5] * 36, frames=40,
                                                              taken_at=1.0))
        save_uniform(str(tmp_path), "door-cam", UniformSample(name="winter", signature=[2.0] * 36, frames=40,
                                                              taken_at=2.0))
        save_uniform(str(tmp_path), "door-cam", UniformSample(name="red-polo", signature=[3.0] * 36, frames=40,
                                                              taken_at=3.0))
    finally:
        os.umask(old)
    path = staff_path(str(tmp_path), "door-cam")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    stored = json.loads(Path(path).read_text())
    assert set(stored) == {"format", "uniforms"}
    for entry in stored["uniforms"]:
        assert set(entry) == {"name", "signature", "frames", "taken_at"}
        assert len(entry["signature"]) == 36 and all(isinstance(v, float) for v in entry["signature"])
    assert [u.name for u in load_uniforms(str(tmp_path), "door-cam")] == ["winter", "red-polo"]
    assert load_uniforms(str(tmp_path), "door-cam")[1].signature == [3.0] * 36, "same name: replaced"
    assert os.listdir(tmp_path / "staff") == ["door-cam.json"]


def test_a_file_that_is_not_a_sample_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "staff").mkdir()
    Path(staff_path(str(tmp_path), "c")).write_text('{"uniforms": [{"name": "x", "signature": [1], "frames": 1, '
                                                    '"taken_at": 0}]}')
    with pytest.raises(ValueError, match="has not 36 numbers"):
        load_uniforms(str(tmp_path), "c")
    assert load_uniforms(str(tmp_path), "nothing-yet") == []
