"""Per-crossing timing for the audit: the feed prefers a device's crossings to its footfall intervals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gateway.audit.device_side import DeviceSide
from gateway.audit.feed import CrossingFeed
from gateway.audit.report import compare
from gateway.devices.camera.crossings import CustomerCrossings
from gateway.devices.context import DeviceContext, no_crossing_sink
from gateway.devices.serial_counter.runner import report_reading
from gateway.devices.synthetic.config import SyntheticConfig
from gateway.events.envelope import rfc3339
from gateway.events.types.footfall import FootfallData
from gateway.pipelines import Event
from gateway.pipelines.footfall import FootfallPipeline, FootfallSettings
from gateway.supervisor import Supervisor
from tests.unit.footfall.support import DOOR, FPS, path, person, scene
from tests.unit.footfall.test_groups_and_shop_front import WideIsStaff
from tests.unit.mqtt.test_device_state import Discard

T0 = 1_700_000_000.0


def minute(start: float, people_in: int, people_out: int = 0) -> Event:
    """A 60 s footfall interval of line "front" starting at ``start``."""
    return Event("footfall", start + 60, FootfallData(line="front", interval_start=rfc3339(start), interval_s=60.0,
                                                      in_=people_in, out=people_out, source="camera"))


def test_a_device_that_tells_its_crossings_is_matched_per_crossing_not_per_interval() -> None:
    feed = CrossingFeed()
    got: list[dict[str, Any]] = []
    feed.subscribe("door-1", got.append)
    feed.crossed("door-1", "front", "in", T0 + 10.0)
    feed.crossed("door-1", "front", "out", T0 + 20.0, T0 + 20.2, people=2)
    feed.crossed("door-1", "front", "in", T0 + 30.0, None, people=0)  # nobody: counted up to 30 s
    feed.observe("door-1", minute(T0, 1, 2))
    assert got == [{"line": "front", "from": T0 + 10, "to": T0 + 10, "in": 1, "out": 0},
                   {"line": "front", "from": T0 + 20, "to": T0 + 20.2, "in": 0, "out": 2},
                   {"line": "front", "from": T0 + 30, "to": T0 + 30, "in": 0, "out": 0},
                   {"line": "front", "from": T0 + 60, "to": T0 + 60, "in": 0, "out": 0}]
    side = DeviceSide()
    for span in got:
        side.add(span)
    assert side.reported_until() == T0 + 60, "the interval still says how far the device has reported"
    assert side.counts(T0, T0 + 60) == (1, 2), "each person once, not again from the interval"
    report = compare([("in", T0 + 10.5), ("out", T0 + 19.0), ("out", T0 + 21.0)], side.crossings(), 2.0,
                     T0, T0 + 60)
    assert abs(report.resolution_s - 0.2) < 1e-6 and report.total.matched == 3
    assert compare([("in", T0 + 50.0)], side.crossings(), 2.0, T0, T0 + 60).directions["in"].matched == 0, \
        "a press 40 s away no longer matches because both sat in the same minute"


def test_a_device_that_never_tells_crossings_keeps_its_interval_spans() -> None:
    feed = CrossingFeed()
    got: list[dict[str, Any]] = []
    feed.subscribe("door-2", got.append)
    feed.crossed("door-1", "front", "in", T0 + 10.0)  # another device
    feed.observe("door-2", minute(T0, 3))
    assert got == [{"line": "front", "from": T0, "to": T0 + 60, "in": 3, "out": 0}]


def test_crossings_before_anyone_listens_cost_nothing_and_still_mark_the_device() -> None:
    feed = CrossingFeed()
    feed.crossed("door-1", "front", "in", T0)
    got: list[dict[str, Any]] = []
    feed.subscribe("door-1", got.append)
    feed.observe("door-1", minute(T0, 1))
    assert got == [{"line": "front", "from": T0 + 60, "to": T0 + 60, "in": 0, "out": 0}]


def test_a_failing_listener_never_reaches_the_device() -> None:
    feed = CrossingFeed()
    got: list[dict[str, Any]] = []

    def broken(span: dict[str, Any]) -> None:
        """Fails on every span."""
        raise RuntimeError("listener bug")

    feed.subscribe("door-1", broken)
    feed.subscribe("door-1", got.append)
    feed.crossed("door-1", "front", "in", T0)
    assert len(got) == 1


class Told:
    """A DeviceContext whose crossings are kept."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.ctx = DeviceContext("door-1", sink=None, crossing_sink=self.sink)  # type: ignore[arg-type]

    def sink(self, device_id: str, line: str, direction: str, t_from: float, t_to: float | None = None,
             people: int = 1) -> None:
        """Keep one call."""
        self.calls.append((device_id, line, direction, t_from, t_to, people))


def test_the_context_is_silent_by_default_and_passes_its_device_id() -> None:
    DeviceContext("door-1", sink=None).crossed("front", "in", T0)  # type: ignore[arg-type]  # no sink: no error
    told = Told()
    told.ctx.crossed("front", "out", T0, T0 + 1, 3)
    assert told.calls == [("door-1", "front", "out", T0, T0 + 1, 3)]


async def test_the_supervisor_hands_its_sink_to_every_device(tmp_path: Path) -> None:
    supervisor = Supervisor(Discard(), str(tmp_path))
    assert supervisor.slots == {} and supervisor.crossing_sink is no_crossing_sink
    told = Told()
    supervisor.crossing_sink = told.sink
    supervisor.start(SyntheticConfig(id="load", rate=5))
    try:
        supervisor.slots["load"].context.crossed("front", "in", T0)
        assert told.calls == [("load", "front", "in", T0, None, 1)]
    finally:
        await supervisor.stop_all()


def test_a_serial_reading_spans_from_the_previous_one() -> None:
    told = Told()
    report_reading(told.ctx, "front", T0, T0 + 0.2, 2, 1)
    report_reading(told.ctx, "front", T0 + 0.2, T0 + 0.4, 0, 0)
    assert told.calls == [("door-1", "front", "in", T0, T0 + 0.2, 2), ("door-1", "front", "out", T0, T0 + 0.2, 1),
                          ("door-1", "front", "in", T0 + 0.4, None, 0)]


def test_the_camera_tells_customer_crossings_only_at_their_frame_time() -> None:
    rule = WideIsStaff()
    pipeline = FootfallPipeline(FootfallSettings(lines=[DOOR], interval_s=3600, rules=[rule]))
    frames = scene((0, path([(100, 200), (460, 200)], 30)), (4, path([(100, 420), (460, 420)], 30)),
                   (8, path([(460, 300), (100, 300)], 30)))
    for k in range(len(frames)):  # the person at y = 420 wears the wide "uniform": staff
        frames[k] = [[b[0] - 15, b[1], b[2] + 15, b[3], b[4]] if b[3] == 420 else b for b in frames[k]]
    told = Told()
    audit = CustomerCrossings(pipeline)
    for i, detections in enumerate(frames):
        pipeline.process(np.array(detections, dtype=np.float32).reshape(-1, 5), T0 + i / FPS)
        audit.report(told.ctx, T0 + i / FPS)
    pipeline.finish(T0 + len(frames) / FPS)
    audit.report(told.ctx, T0 + len(frames) / FPS)
    people = [c for c in told.calls if c[5]]
    assert len(pipeline.crossings) == 3, "every crossing, staff too, for the bench"
    assert [(c[2], c[5]) for c in people] == [("in", 1), ("out", 1)], "the staff crossing is not the audit's"
    ins = sorted(t for _, d, t in pipeline.crossings if d == "in")  # the customer crosses first, staff 4 s later
    outs = [t for _, d, t in pipeline.crossings if d == "out"]
    assert [c[3] for c in people] == [ins[0], outs[0]]
    assert all(c[4] is None for c in told.calls), "a camera's crossing is a moment"
    assert len(told.calls) == len(frames) + 1, "one call per line and frame: a crossing or a mark"


def test_a_person_already_counted_is_not_told_again() -> None:
    pipeline = FootfallPipeline(FootfallSettings(lines=[DOOR], interval_s=3600))
    feed_frames = [[person(x)] for x in range(100, 470, 12)]
    for i, detections in enumerate(feed_frames):
        pipeline.process(np.array(detections, dtype=np.float32).reshape(-1, 5), T0 + i / FPS)
    told = Told()
    CustomerCrossings(pipeline).report(told.ctx, T0 + 10)
    assert pipeline.totals["door"] == [1, 0] and told.calls == [("door-1", "door", "in", T0 + 10, None, 0)]
