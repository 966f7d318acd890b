"""Staff by uniform: a track wearing the sampled uniform is staff, other clothes are not, per line."""

from __future__ import annotations

import numpy as np

from gateway.devices.camera import staff_config
from gateway.pipelines.people import staff
from gateway.pipelines.people.staff import LineStaffPolicy, StaffRule
from gateway.vision.appearance import signatures
from tests.unit.people.conftest import track

RED_POLO = ((40, 40, 210), (30, 30, 30))      # BGR: red top, black trousers
NAVY_COAT = ((110, 40, 20), (150, 120, 80))   # navy coat, jeans
BLACK_ON_RED = ((30, 30, 30), (40, 40, 210))  # the same colours the other way up


def painted(colours: tuple[tuple[int, int, int], tuple[int, int, int]], seed: int) -> np.ndarray:
    """The real signature of a painted 40x120 person in those clothes, with camera noise."""
    rng = np.random.default_rng(seed)
    frame = np.full((300, 200, 3), 128, dtype=np.uint8)
    frame[100:160, 80:120] = colours[0]
    frame[160:220, 80:120] = colours[1]
    light = rng.normal(0, 5)  # the light changes a little frame to frame
    noisy = np.clip(frame + light + rng.normal(0, 6, frame.shape), 0, 255).astype(np.uint8)
    return signatures(noisy, np.array([[80, 100, 120, 220, 0.9]], dtype=np.float32))[0]


def walk(rule: StaffRule, track_id: int, colours: tuple, frames: int = 8, seed: int = 0) -> None:
    """A track seen ``frames`` times wearing ``colours``."""
    for i in range(frames):
        rule.observe(track(track_id, (80, 100, 120, 220), i * 0.1, painted(colours, seed + i)), i * 0.1)


def uniform_rule(**policy: object) -> StaffRule:
    """Uniform checked on the line "door" against a sample of the red polo."""
    sample = np.median(np.stack([painted(RED_POLO, 100 + i) for i in range(10)]), axis=0)
    return StaffRule({"door": LineStaffPolicy(uniform=True, **policy)}, [sample])  # type: ignore[arg-type]


def test_the_uniform_matches_and_other_clothes_do_not() -> None:
    rule = uniform_rule()
    walk(rule, 1, RED_POLO)
    walk(rule, 2, NAVY_COAT)
    walk(rule, 3, BLACK_ON_RED)
    assert rule.classify(track(1, (0, 0, 1, 1)), "door", 1.0)
    assert not rule.classify(track(2, (0, 0, 1, 1)), "door", 1.0)
    assert not rule.classify(track(3, (0, 0, 1, 1)), "door", 1.0), "the layout counts, not only the colours"
    assert rule.uniform_distance(1) < 8.0 < staff.DEFAULT_MAX_DISTANCE < rule.uniform_distance(2)  # type: ignore[operator]


def test_an_unchecked_line_or_too_few_frames_is_never_staff() -> None:
    rule = uniform_rule()
    walk(rule, 1, RED_POLO, frames=2)
    assert not rule.classify(track(1, (0, 0, 1, 1)), "door", 1.0), "two frames are not enough evidence"
    walk(rule, 1, RED_POLO, frames=3, seed=50)
    assert rule.classify(track(1, (0, 0, 1, 1)), "door", 1.0)
    assert not rule.classify(track(1, (0, 0, 1, 1)), "side-door", 1.0)


def test_one_odd_frame_does_not_decide() -> None:
    rule = uniform_rule()
    walk(rule, 1, RED_POLO, frames=6)
    rule.observe(track(1, (80, 100, 120, 220), 1.0, painted(NAVY_COAT, 7)), 1.0)  # a passer-by in front
    assert rule.classify(track(1, (0, 0, 1, 1)), "door", 1.1)


def test_the_distance_threshold_is_the_configured_one() -> None:
    rule = uniform_rule(uniform_max_distance=0.5)
    walk(rule, 1, RED_POLO)
    assert not rule.classify(track(1, (0, 0, 1, 1)), "door", 1.0)


def test_forget_and_memory_bounds() -> None:
    rule = uniform_rule()
    for track_id in range(3000):
        rule.observe(track(track_id, (80, 100, 120, 220), 0.0, painted(RED_POLO, 1)), 0.0)
    assert rule.tracks_held() == rule.max_tracks
    walk(rule, 5000, RED_POLO, frames=40)
    assert len(rule._recent[5000]) == rule.recent_frames
    rule.forget(5000)
    assert 5000 not in rule._recent


def test_no_uniform_sampled_keeps_nothing() -> None:
    rule = StaffRule({"door": LineStaffPolicy(uniform=True)}, [])
    walk(rule, 1, RED_POLO)
    assert rule.tracks_held() == 0 and not rule.classify(track(1, (0, 0, 1, 1)), "door", 1.0)


def test_the_config_default_is_the_rule_default() -> None:
    assert staff_config.DEFAULT_MAX_DISTANCE == staff.DEFAULT_MAX_DISTANCE


def test_a_uniform_wearing_track_through_the_footfall_pipeline_is_staff_in() -> None:
    import msgspec

    from gateway.pipelines.footfall import FootfallPipeline, FootfallSettings
    from tests.unit.footfall.support import DOOR, FPS, only, path, person

    red, blue = np.full(36, 60.0, np.float32), np.full(36, 160.0, np.float32)
    rule = StaffRule({"door": LineStaffPolicy(uniform=True, uniform_max_distance=10.0)}, [red])
    pipe = FootfallPipeline(FootfallSettings(lines=[DOOR], interval_s=3600, rules=[rule]))
    walk_in = path([(200, 300), (500, 300)], 30)
    t = 0.0
    events = []
    for wearing in (red, blue):  # staff in the sampled uniform, then a customer in another colour
        for x, y in walk_in:
            events += pipe.process(np.array([person(x, y)], np.float32), t, wearing[None, :] + 1.0)
            t += 1 / FPS
        t += 5.0
    events += pipe.finish(t)
    (data,) = only(events, "footfall")
    data = msgspec.to_builtins(data)
    assert (data["in"], data["staff_in"]) == (1, 1)
