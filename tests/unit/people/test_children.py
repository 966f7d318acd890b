"""Children by apparent height: learnt per image region after a warm-up, or from a manual override."""

from __future__ import annotations

import numpy as np

from gateway.pipelines.people.children import ChildRule, ChildSettings
from gateway.pipelines.people.heights import HeightModel, HeightSettings
from tests.unit.people.conftest import track

FRAME = (640, 480)


def adult_height(feet_y: float) -> float:
    """Perspective of the synthetic scene: 100 px tall at y=200, 200 px at y=400."""
    return feet_y / 2.0


def cross(rule: ChildRule, track_id: int, x: float, feet_y: float, share: float, seed: int = 0) -> bool:
    """A person of ``share`` of adult height walks 10 frames along x at ``feet_y``; was the crossing a child's?"""
    rng = np.random.default_rng(seed)
    for i in range(10):
        h = adult_height(feet_y) * share * (1 + rng.normal(0, 0.04))
        left = x + 4 * i
        rule.observe(track(track_id, (left, feet_y - h, left + h / 3, feet_y), i * 0.1), i * 0.1)
    child = rule.classify(track(track_id, (0, 0, 1, 1)), "door", 1.0)
    rule.forget(track_id)
    return child


def learnt_rule(warmup: int = 20, **settings: object) -> ChildRule:
    """A rule on a 640x480 frame with an 8x6 grid."""
    return ChildRule(ChildSettings(heights=HeightSettings(frame_size=FRAME, warmup=warmup), **settings))  # type: ignore[arg-type]


def warm_up(rule: ChildRule, feet_y: float, count: int, start: int = 0) -> None:
    """``count`` adults (a few children among them) walk past at ``feet_y``."""
    for i in range(count):
        cross(rule, start + i, 300, feet_y, 0.6 if i % 7 == 0 else 1.0, seed=start + i)


def test_no_child_before_warm_up_then_children_and_not_adults() -> None:
    rule = learnt_rule()
    warm_up(rule, 400, 19)
    assert not cross(rule, 500, 300, 400, 0.55), "before the warm-up nobody is a child"
    warm_up(rule, 400, 5, start=100)
    assert cross(rule, 501, 300, 400, 0.55)
    assert not cross(rule, 502, 300, 400, 1.0)
    assert not cross(rule, 503, 300, 400, 0.9), "a short adult is still an adult"


def test_perspective_is_learnt_per_region() -> None:
    rule = learnt_rule()
    warm_up(rule, 400, 30)
    warm_up(rule, 200, 30, start=1000)
    # an adult far away is as short as a child near the camera: each is judged where it stands
    assert not cross(rule, 2000, 300, 200, 1.0)
    assert cross(rule, 2001, 300, 200, 0.55)
    assert cross(rule, 2002, 300, 400, 0.55)
    far = rule.model.adult_height(320, 200)
    near = rule.model.adult_height(320, 400)
    assert far is not None and near is not None and 90 < far < 115 and 180 < near < 230
    line = rule.model.line()
    assert line is not None and 0.4 < line[0] < 0.6, "the perspective line is learnt: h = y / 2"
    assert rule.model.adult_height(320, 300) is not None, "between the depths seen, the line answers"


def test_a_cold_cell_borrows_its_row_and_a_cold_row_decides_nothing() -> None:
    rule = learnt_rule()
    warm_up(rule, 400, 30)
    assert rule.model.line() is None, "feet seen over less than a row: no slope to trust"
    assert cross(rule, 3000, 40, 400, 0.55), "same row, another column: the row pool stands in"
    assert not cross(rule, 3001, 300, 120, 0.3), "a row nobody was seen in never says child"


def test_the_line_is_not_extrapolated_beyond_a_row_from_the_feet_seen() -> None:
    rule = learnt_rule()
    warm_up(rule, 300, 30)
    warm_up(rule, 400, 30, start=1000)
    assert rule.model.line() is not None
    assert rule.model.adult_height(320, 230) is not None, "one row (80 px) beyond the feet seen: answered"
    assert rule.model.adult_height(320, 210) is None and not cross(rule, 3002, 300, 210, 0.3)


def test_the_manual_override_decides_at_once() -> None:
    fixed = learnt_rule(adult_height_px=200.0)
    assert cross(fixed, 1, 300, 400, 0.55) and not cross(fixed, 2, 300, 400, 1.0)
    rows = learnt_rule(adult_height_rows=(40.0, 60.0, 80.0, 100.0, 150.0, 200.0))
    assert cross(rows, 3, 300, 200, 0.55) and not cross(rows, 4, 300, 200, 1.0)  # row 2: 80 px, person 100 px
    share = learnt_rule(adult_height_px=200.0, child_height_share=0.5)
    assert not cross(share, 5, 300, 400, 0.55), "the share is the configured one"


def test_boxes_cut_by_the_frame_are_not_learnt() -> None:
    rule = learnt_rule(warmup=1)
    for i in range(5):
        rule.observe(track(1, (100, 0, 130, 90 + i), i * 0.1), i * 0.1)  # head above the frame
    rule.forget(1)
    assert rule.model.size() == 0


def test_memory_is_bounded() -> None:
    model = HeightModel(HeightSettings(cell_px=10.0, history=5, max_cells=16))
    for i in range(10_000):
        model.add((i % 40, i % 30), 100.0)
    assert len(model.samples()) <= 16 and model.size() <= 2 * 16 * 5
    fitted = HeightModel(HeightSettings(cell_px=10.0, history=5, max_cells=16, fit_history=40, warmup=3))
    for i in range(3000):
        fitted.add_track([(float(i % 600), float(i % 400 + 50), (i % 400 + 50) / 2.0)] * 3)
    assert fitted.line() is not None and fitted.size() <= 2 * 16 * 5 + 3 * 40
    rule = ChildRule(ChildSettings(max_tracks=50, recent_frames=4, per_cell_frames=3), model)
    for i in range(5000):
        rule.observe(track(i, (i % 600, 100, i % 600 + 30, 200), 0.0), 0.0)
        rule.observe(track(i, (i % 600, 100, i % 600 + 30, 200), 0.1), 0.1)
    assert rule.tracks_held() == 50
    for _ in range(100):
        rule.observe(track(7, (10, 100, 40, 200), 0.0), 0.0)
    assert len(rule._tracks[7].recent) == 4 and all(len(v) <= 3 for v in rule._tracks[7].by_cell.values())


def test_the_height_model_holds_numbers_only() -> None:
    rule = learnt_rule()
    warm_up(rule, 400, 30)
    assert rule.model.size() > 0
    for cell, heights in rule.model.samples().items():
        assert all(isinstance(c, int) for c in cell)
        assert all(type(h) is float for h in heights), "one height per track and cell, no pixels"
    bad = list(non_numbers(vars(rule.model), "model")) + list(non_numbers(vars(rule), "rule"))
    assert bad == [], f"only numbers are held: {bad[:5]}"


def non_numbers(value: object, where: str, depth: int = 0) -> list[str]:
    """Where, walking containers and objects recursively, something other than a few numbers is held."""
    if isinstance(value, bool | int | float | np.integer | np.floating | str) or value is None:
        return []
    if isinstance(value, bytes | bytearray | memoryview):
        return [f"{where}: bytes"]
    if isinstance(value, np.ndarray):
        return [] if value.size <= 4 and value.dtype.kind in "iuf" else [f"{where}: array of {value.size}"]
    if depth > 8:
        return []
    if isinstance(value, dict):
        return [b for k, v in value.items()
                for b in non_numbers(k, where, depth + 1) + non_numbers(v, f"{where}[{k!r}]", depth + 1)]
    if isinstance(value, list | tuple | set | frozenset) or type(value).__name__ == "deque":
        return [b for i, v in enumerate(value) for b in non_numbers(v, f"{where}[{i}]", depth + 1)]
    if hasattr(value, "__dict__") or hasattr(value, "__slots__"):
        fields = vars(value) if hasattr(value, "__dict__") else {n: getattr(value, n) for n in value.__slots__}
        return [b for k, v in fields.items() for b in non_numbers(v, f"{where}.{k}", depth + 1)]
    return []


def test_the_privacy_walk_can_fail() -> None:
    assert non_numbers({"a": [(1, 2.0)]}, "x") == []
    assert non_numbers({"a": [np.zeros((8, 8, 3))]}, "x") and non_numbers({"a": {1: b"jpeg"}}, "x")
