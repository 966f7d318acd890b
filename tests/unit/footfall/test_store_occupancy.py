"""Store occupancy that stays true: never negative, daily reset, empty-zone reset, limit alerts."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from gateway.pipelines.counters import Baseline, FootfallCounter
from gateway.pipelines.occupancy import OccupancySettings, StoreOccupancy, next_local, parse_hhmm
from gateway.vision.geometry import Zone
from tests.unit.footfall.support import FPS, only, path, run, scene

BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str) -> float:
    """Epoch seconds of a Berlin wall-clock time "YYYY-MM-DD HH:MM:SS"."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=BERLIN).timestamp()


def test_more_outs_than_ins_never_go_negative() -> None:
    store = StoreOccupancy(OccupancySettings())
    store.enter(2, 0.0)
    store.leave(5, 1.0)
    assert (store.count, store.floored) == (0, 3)
    store.enter(1, 2.0)
    assert store.count == 1, "the missing outs are not carried into the next person"


def test_the_daily_reset_happens_at_the_configured_local_time() -> None:
    store = StoreOccupancy(OccupancySettings(reset_at=parse_hhmm("22:30"), tz=BERLIN))
    store.enter(7, at("2026-03-10 12:00:00"))
    store.step(at("2026-03-10 22:29:59"))
    assert store.count == 7
    store.step(at("2026-03-10 22:30:00"))
    assert (store.count, store.daily_resets) == (0, 1)
    store.enter(3, at("2026-03-11 09:00:00"))
    store.step(at("2026-03-11 22:29:00"))
    assert store.count == 3
    store.step(at("2026-03-12 08:00:00"))  # the box was off at closing: reset on the first step after
    assert (store.count, store.daily_resets) == (0, 2)


def test_the_reset_time_follows_daylight_saving() -> None:
    # the night clocks go forward, 22:30 is still 22:30 local (one hour less of UTC offset before)
    assert next_local(at("2026-03-29 12:00:00"), parse_hhmm("22:30"), BERLIN) == at("2026-03-29 22:30:00")
    assert next_local(at("2026-03-28 23:00:00"), parse_hhmm("22:30"), BERLIN) - at("2026-03-28 22:30:00") == 23 * 3600


def test_the_limit_alerts_once_over_and_once_back_under() -> None:
    store = StoreOccupancy(OccupancySettings(limit=2))
    alerts = []
    for change, n in [("enter", 1), ("enter", 1), ("enter", 1), ("enter", 1), ("leave", 1), ("leave", 1),
                      ("leave", 1), ("leave", 3)]:
        alerts += [e.data for e in getattr(store, change)(n, 0.0)]
    assert [(a.alert, a.count, a.limit, a.scope) for a in alerts] == [("over", 3, 2, "store"), ("under", 2, 2, "store")]


def test_the_daily_reset_brings_an_over_limit_store_back_under() -> None:
    store = StoreOccupancy(OccupancySettings(limit=1, reset_at=parse_hhmm("22:30"), tz=BERLIN))
    assert [e.data.alert for e in store.enter(2, at("2026-03-10 21:00:00"))] == ["over"]
    assert [e.data.alert for e in store.step(at("2026-03-10 22:31:00"))] == ["under"]


FLOOR = Zone("floor", ((340, 0), (640, 0), (640, 480), (340, 480)))


def test_an_empty_shop_floor_resets_drifted_occupancy() -> None:
    # walks in, then is lost by the camera inside the store without ever being counted out
    walk_in = path([(100, 300), (460, 300)], 30)
    settings = OccupancySettings(empty_zone="floor", empty_reset_s=10.0)
    pipeline, events = run(scene((0, walk_in)) + [[] for _ in range(int(8 * FPS))], zones=[FLOOR], occupancy=settings)
    assert pipeline.occupancy is not None
    assert pipeline.occupancy.count == 1, "not reset before the zone has been empty for empty_reset_s"
    pipeline, events = run(scene((0, walk_in)) + [[] for _ in range(int(15 * FPS))], zones=[FLOOR],
                           occupancy=settings)
    assert pipeline.occupancy is not None
    assert (pipeline.occupancy.count, pipeline.occupancy.drift_resets) == (0, 1)
    store = [d for d in only(events, "occupancy") if d.scope == "store"]
    assert [(d.zone, d.count) for d in store] == [("store", 0)]


def test_camera_crossings_drive_the_limit_alert() -> None:
    frames = scene((0, path([(100, 300), (460, 300)], 30)), (5, path([(100, 200), (460, 200)], 30)),
                   (10, path([(460, 300), (100, 300)], 30)))
    _, events = run(frames, occupancy=OccupancySettings(limit=1))
    alerts = [(d.alert, d.count) for d in only(events, "occupancy") if d.alert is not None]
    assert alerts == [("over", 2), ("under", 1)]


def test_a_door_counter_keeps_store_occupancy_too() -> None:
    store = StoreOccupancy(OccupancySettings(limit=2, reset_at=parse_hhmm("22:30"), tz=BERLIN))
    counter = FootfallCounter("door", 60.0, 16, Baseline("s1", 100, 100), occupancy=store)
    t0 = at("2026-03-10 22:00:00")
    events = counter.feed("s1", 103, 100, t0)  # three in
    events += counter.feed("s1", 103, 106, t0 + 10)  # six out: a drifted counter
    events += counter.tick(t0 + 60)
    assert [(d.alert, d.count) for d in only(events, "occupancy") if d.alert] == [("over", 3), ("under", 0)]
    assert [d.count for d in only(events, "occupancy") if not d.alert] == [0]
    counter.feed("s1", 105, 106, t0 + 70)
    counter.tick(at("2026-03-10 22:30:00"))
    assert store.count == 0 and store.daily_resets == 1
    assert only(events, "footfall")[0].groups_in is None, "a serial counter's payload is unchanged"
