"""One store occupancy over several doors and across restarts: the registry, its shared count and the config check."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import stat
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateway.cli.liveview.figures import RetailFigures
from gateway.config import ConfigError, parse_config
from gateway.devices.occupancy_state import state_path
from gateway.devices.store_occupancy import OccupancyRegistry
from gateway.pipelines.counters import Baseline, FootfallCounter
from gateway.pipelines.footfall import FootfallPipeline, FootfallSettings
from gateway.pipelines.occupancy import RESTORE_MAX_AGE_S, OccupancySettings, parse_hhmm, same_business_day
from tests.unit.footfall.support import DOOR, feed, only, path, scene

BERLIN = ZoneInfo("Europe/Berlin")
HEAD = '[gateway]\nstore_id = "s"\ngateway_id = "g"\n[mqtt]\nurl = "mqtt://127.0.0.1"\n\n'


def at(text: str) -> float:
    """Epoch seconds of a Berlin wall-clock time "YYYY-MM-DD HH:MM:SS"."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=BERLIN).timestamp()


def settings(**keys: object) -> OccupancySettings:
    """Store occupancy settings in Berlin time."""
    return OccupancySettings(tz=BERLIN, **keys)  # type: ignore[arg-type]


def test_in_by_one_door_out_by_the_other_is_one_count_never_negative(tmp_path: Path) -> None:
    registry = OccupancyRegistry()
    t0 = at("2026-03-10 10:00:00")
    main = registry.join("main-door", settings(), str(tmp_path), t0)
    side = registry.join("side-door", settings(), str(tmp_path), t0)
    # the door counters as the daemon runs them: cumulative readings, each door its own counter
    counter_a = FootfallCounter("main", 60.0, 16, Baseline("a", 0, 0), occupancy=main)
    counter_b = FootfallCounter("side", 60.0, 16, Baseline("b", 0, 0), occupancy=side)
    counter_a.feed("a", 5, 0, t0 + 1)  # five in by the main door
    counter_b.feed("b", 0, 3, t0 + 2)  # three out by the side door
    assert main.count == side.count == 2, "one store count, not 5 at one door and 0 (floored) at the other"
    counter_b.feed("b", 0, 7, t0 + 3)  # four more out than are in: the count stops at 0
    assert main.count == 0 and main.shared.store.floored == 2
    counter_a.feed("a", 6, 0, t0 + 4)
    assert side.count == 1, "the outs dropped at 0 are not carried into the next person"


def test_one_periodic_event_per_interval_from_the_first_id(tmp_path: Path) -> None:
    registry = OccupancyRegistry()
    t0 = 1_800_000_000.0  # a multiple of 60: both doors' intervals end together
    side = registry.join("side-door", settings(), str(tmp_path), t0)
    main = registry.join("main-door", settings(), str(tmp_path), t0)
    counter_b = FootfallCounter("side", 60.0, 16, Baseline("b", 0, 0), occupancy=side)
    counter_a = FootfallCounter("main", 60.0, 16, Baseline("a", 0, 0), occupancy=main)
    counter_b.feed("b", 4, 1, t0 + 1)
    counter_a.feed("a", 2, 0, t0 + 2)
    # the side door's tick comes first at the first interval's end: it is the only one that produced an interval
    side_events, main_events = counter_b.tick(t0 + 60), counter_a.tick(t0 + 60)
    store = [e.data for e in side_events if e.type == "occupancy"]
    assert [(d.zone, d.count, d.scope) for d in store] == [("store", 5, "store")]
    assert [e.type for e in main_events] == ["footfall"], "the same interval's end is published once"
    # from then on both produce intervals: main-door (first in sorted order) publishes, whoever ticks first
    side_events, main_events = counter_b.tick(t0 + 120), counter_a.tick(t0 + 120)
    assert [e.type for e in side_events] == ["footfall"]
    assert [(e.type, e.data.count) for e in main_events if e.type == "occupancy"] == [("occupancy", 5)]
    # main-door stops (a reload removed it): the side door takes over at its next interval
    main.close(t0 + 130)
    assert [(e.type, e.data.count) for e in counter_b.tick(t0 + 180) if e.type == "occupancy"] == [("occupancy", 5)]


def test_a_door_that_makes_no_intervals_does_not_silence_the_others(tmp_path: Path) -> None:
    registry = OccupancyRegistry()
    t0 = 1_800_000_000.0
    first = registry.join("a-door", settings(), str(tmp_path), t0, interval_s=60.0)  # its counter never answers
    other = registry.join("b-door", settings(), str(tmp_path), t0, interval_s=60.0)
    assert first.shared.publisher(t0 + 30) == "a-door", "before any interval, the first of those just joined"
    assert [e.data.count for e in other.periodic(t0 + 60)] == [0], "a-door has produced no interval: b-door publishes"
    assert other.periodic(t0 + 60.5) == [], "the same interval's end is published once"
    assert [e.data.count for e in other.periodic(t0 + 120)] == [0]
    assert other.periodic(t0 + 60) == [], "an end older than the last published is not published again"


def test_a_hand_over_to_a_joining_door_publishes_each_end_once(tmp_path: Path) -> None:
    registry = OccupancyRegistry()
    t0 = 1_800_000_000.0
    side = registry.join("side-door", settings(), str(tmp_path), t0, interval_s=60.0)
    assert len(side.periodic(t0 + 60)) == 1
    main = registry.join("main-door", settings(), str(tmp_path), t0 + 70, interval_s=60.0)  # a reload adds it
    ends = []
    for end in (t0 + 120, t0 + 180, t0 + 240):
        # whichever door ticks first at an interval's end, that end is published once, and no end is skipped
        first, second = (side, main) if end == t0 + 120 else (main, side)
        ends += [(member.device_id, e.time) for member in (first, second) for e in member.periodic(end)]
    assert ends == [("side-door", t0 + 120), ("main-door", t0 + 180), ("main-door", t0 + 240)]


def test_a_limit_alert_is_made_once_by_the_door_that_crossed_it(tmp_path: Path) -> None:
    registry = OccupancyRegistry()
    main = registry.join("main-door", settings(limit=2), str(tmp_path), 0.0)
    side = registry.join("side-door", settings(), str(tmp_path), 0.0)
    assert side.shared.store.settings.limit == 2, "the limit one door sets is the store's"
    assert main.enter(2, 1.0) == []
    over = side.enter(1, 2.0)
    assert [(e.data.alert, e.data.count, e.data.limit) for e in over] == [("over", 3, 2)]
    assert main.enter(1, 3.0) == [], "still over: no second alert from the other door"
    under = main.leave(2, 4.0)
    assert [(e.data.alert, e.data.count) for e in under] == [("under", 2)]


def test_any_cameras_empty_zone_resets_the_common_count(tmp_path: Path) -> None:
    registry = OccupancyRegistry()
    counter = registry.join("door-counter", settings(), str(tmp_path), 0.0)
    camera = registry.join("floor-camera", settings(empty_zone="floor", empty_reset_s=10.0), str(tmp_path), 0.0)
    counter.enter(3, 0.0)
    assert counter.step(5.0, zone_empty=True) == [] and counter.count == 3, "a counter has no zone to watch"
    camera.step(1.0, zone_empty=True)
    camera.step(9.0, zone_empty=True)
    assert counter.count == 3
    camera.step(11.0, zone_empty=True)
    assert counter.count == 0 and camera.shared.store.drift_resets == 1


def test_a_camera_and_a_counter_share_the_count(tmp_path: Path) -> None:
    registry = OccupancyRegistry()
    counter = registry.join("back-door", settings(), str(tmp_path), 0.0)
    camera = registry.join("front-camera", settings(), str(tmp_path), 0.0)
    pipeline = FootfallPipeline(FootfallSettings(lines=[DOOR], interval_s=3600, occupancy=settings()),
                                occupancy=camera)
    walk_in = path([(100, 300), (460, 300)], 30)
    feed(pipeline, scene((0, walk_in), (1, path([(100, 200), (460, 200)], 30))))
    assert counter.count == 2, "two in through the camera's door"
    counter.leave(2, 10.0)
    assert pipeline.occupancy is camera and camera.count == 0


def test_a_reload_neither_double_counts_nor_leaks(tmp_path: Path) -> None:
    registry = OccupancyRegistry()
    main = registry.join("main-door", settings(), str(tmp_path), 0.0)
    side = registry.join("side-door", settings(), str(tmp_path), 0.0)
    main.enter(4, 1.0)
    side.close(2.0)  # the reload stops side-door ...
    side_again = registry.join("side-door", settings(), str(tmp_path), 3.0)  # ... and starts it again
    assert side_again.shared is main.shared and main.count == 4
    side_again.enter(1, 4.0)
    assert main.count == 5, "counted once"
    side.close(5.0)  # closing a closed handle again changes nothing
    assert sorted(main.shared.members) == ["main-door", "side-door"]
    main.close(6.0)
    side_again.close(6.0)
    assert main.shared.members == {}, "no membership outlives its runner"
    back = registry.join("main-door", settings(), str(tmp_path), 60.0)
    assert back.count == 5, "the count is the store's: it waits in RAM for the devices to come back"


def test_a_stale_handle_does_not_end_the_new_membership(tmp_path: Path) -> None:
    registry = OccupancyRegistry()
    old = registry.join("cam", settings(), str(tmp_path), 0.0)
    new = registry.join("cam", settings(), str(tmp_path), 1.0)  # restarted before the old run had left
    old.close(2.0)
    assert list(new.shared.members) == ["cam"] and new.shared.members["cam"] is new
    assert [e.data.count for e in new.periodic(60.0)] == [0], "still the publisher"


def test_the_count_survives_a_restart_on_the_same_business_day(tmp_path: Path) -> None:
    group = settings(reset_at=parse_hhmm("22:30"))
    before = OccupancyRegistry()
    door = before.join("main-door", group, str(tmp_path), at("2026-03-10 14:00:00"))
    door.enter(7, at("2026-03-10 14:00:01"))
    door.close(at("2026-03-10 14:00:02"))  # systemd stops storegw: the count is saved
    saved = Path(state_path(str(tmp_path), "store"))
    assert json.loads(saved.read_text())["count"] == 7
    assert stat.S_IMODE(os.stat(saved).st_mode) == 0o640
    # started again the same afternoon: the 7 people are still in
    assert OccupancyRegistry().join("main-door", group, str(tmp_path), at("2026-03-10 14:05:00")).count == 7
    # started again after closing time (22:30 lies between the save and now): the store emptied meanwhile
    assert OccupancyRegistry().join("main-door", group, str(tmp_path), at("2026-03-10 22:31:00")).count == 0
    # without a reset time, a save older than RESTORE_MAX_AGE_S is not trusted either
    plain = settings()
    assert OccupancyRegistry().join("main-door", plain, str(tmp_path), at("2026-03-10 23:00:00")).count == 7
    assert OccupancyRegistry().join("main-door", plain, str(tmp_path), at("2026-03-11 03:00:00")).count == 0


def test_the_periodic_event_saves_the_count(tmp_path: Path) -> None:
    registry = OccupancyRegistry()
    door = registry.join("main-door", settings(), str(tmp_path), 100.0)
    door.enter(3, 101.0)
    assert [e.data.count for e in door.periodic(160.0)] == [3]
    assert json.loads(Path(state_path(str(tmp_path), "store")).read_text()) == {
        "name": "store", "count": 3, "saved_at": 160.0, "doors": {}}


def test_the_configs_reset_time_decides_the_restore_before_its_door_joins(tmp_path: Path) -> None:
    def local(text: str) -> float:
        """Epoch seconds of a wall-clock time of the box's own zone (what the config's HH:MM means)."""
        return dt.datetime.fromisoformat(text).astimezone().timestamp()

    own = OccupancySettings()  # a-door sets no reset time; b-door, which has not joined yet, does
    saved = OccupancyRegistry().join("a-door", own, str(tmp_path), local("2026-03-10 20:00:00"))
    saved.enter(5, local("2026-03-10 20:00:00"))
    saved.close(local("2026-03-10 20:00:01"))
    assert OccupancyRegistry().join("a-door", own, str(tmp_path), local("2026-03-10 23:00:00")).count == 5
    registry = OccupancyRegistry()
    registry.configure(parse_config(HEAD + door("a-door") + door("b-door", 'occupancy_reset_at = "22:30"'),
                                    "c.toml").devices)
    # a-door joins first, after closing time: the group's 22:30 applies all the same
    assert registry.join("a-door", own, str(tmp_path), local("2026-03-10 23:00:00")).count == 0


def test_a_corrupt_state_file_is_said_once_and_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    saved = Path(state_path(str(tmp_path), "store"))
    saved.parent.mkdir(parents=True)
    saved.write_text('{"count": "seven", "saved_')
    registry = OccupancyRegistry()
    with caplog.at_level(logging.WARNING, "storegw.occupancy"):
        first = registry.join("main-door", settings(), str(tmp_path), 10.0)
        registry.join("side-door", settings(), str(tmp_path), 10.0)
    assert first.count == 0
    assert len([r for r in caplog.records if "unreadable" in r.getMessage()]) == 1
    first.enter(2, 11.0)
    first.close(12.0)
    assert json.loads(saved.read_text())["count"] == 2, "the next save replaces it"
    for bad in ('{"count": -1, "saved_at": 5}', '[1, 2]', '{"count": 3, "saved_at": true}'):
        saved.write_text(bad)
        assert OccupancyRegistry().join("main-door", settings(), str(tmp_path), 10.0).count == 0, bad


def test_an_occupancy_name_never_leaves_the_state_folder(tmp_path: Path) -> None:
    folder = os.path.join(str(tmp_path), "state")
    assert state_path(str(tmp_path), "store") == os.path.join(folder, "occupancy-store.json")
    names = ["../../etc/passwd", "floor 2/east", "floor 2_east", ".hidden", "x" * 64]
    paths = [state_path(str(tmp_path), name) for name in names]
    assert all(os.path.dirname(p) == folder and os.path.basename(p).startswith("occupancy-") for p in paths)
    assert len(set(paths)) == len(paths), "names that differ keep different files"


def test_same_business_day() -> None:
    closing = parse_hhmm("22:30")
    assert same_business_day(at("2026-03-10 12:00:00"), at("2026-03-10 22:29:00"), closing, BERLIN)
    assert not same_business_day(at("2026-03-10 12:00:00"), at("2026-03-10 22:30:00"), closing, BERLIN)
    assert same_business_day(at("2026-03-10 22:40:00"), at("2026-03-11 08:00:00"), closing, BERLIN)
    assert not same_business_day(0.0, RESTORE_MAX_AGE_S + 1, None, BERLIN)
    assert not same_business_day(1000.0, 0.0, None, BERLIN), "saved in the future: the clock jumped back"


def door(device_id: str, *keys: str) -> str:
    """A serial counter with store occupancy on, and ``keys`` (TOML lines)."""
    extra = "".join(f"{key}\n" for key in keys)
    return (f'[[devices]]\nid = "{device_id}"\nkind = "serial_counter"\nport = "/dev/null"\n'
            f"store_occupancy = true\n{extra}")


@pytest.mark.parametrize(("key", "first", "second"), [("occupancy_limit", "25", "30"),
                                                       ("occupancy_reset_at", '"22:30"', '"21:00"')])
def test_config_check_refuses_doors_of_one_occupancy_that_disagree(key: str, first: str, second: str) -> None:
    source = HEAD + door("main-door", f"{key} = {first}") + door("side-door", f"{key} = {second}")
    with pytest.raises(ConfigError) as caught:
        parse_config(source, "store.toml")
    (problem,) = caught.value.problems
    assert (problem.file, problem.key) == ("store.toml", f"devices[1].{key}")
    assert problem.line == source.splitlines().index(f"{key} = {second}") + 1
    assert "devices[0] (main-door" in problem.message and "'store'" in problem.message
    # one setting it, the other leaving it out: the set one applies to both
    parse_config(HEAD + door("main-door", f"{key} = {first}") + door("side-door"), "store.toml")
    # or two occupancies, two settings; a disabled door counts nothing
    parse_config(source.replace(f"{key} = {second}", f'{key} = {second}\noccupancy_name = "annex"'), "store.toml")
    parse_config(source.replace(f"{key} = {second}", f"{key} = {second}\nenabled = false"), "store.toml")


def test_a_camera_and_a_counter_of_one_store_are_checked_together() -> None:
    camera = ('[[devices]]\nid = "cam"\nkind = "camera"\nsource = "clip.mp4"\noccupancy_limit = 40\n'
              'lines = [{name = "door", x1 = 0, y1 = 0, x2 = 10, y2 = 10, inside = [5, 9]}]\n')
    with pytest.raises(ConfigError) as caught:
        parse_config(HEAD + door("counter", "occupancy_limit = 25") + camera, "c.toml")
    assert [p.key for p in caught.value.problems] == ["devices[1].occupancy_limit"]
    config = parse_config(HEAD + door("counter", "occupancy_limit = 25") + camera.replace("40", "25"), "c.toml")
    assert [d.occupancy_name for d in config.devices] == ["store", "store"]


def test_an_occupancy_name_turns_store_occupancy_on() -> None:
    config = parse_config(HEAD + '[[devices]]\nid = "d"\nkind = "serial_counter"\nport = "/dev/null"\n'
                          'occupancy_name = "annex"\n', "c.toml")
    assert config.devices[0].counts_store_occupancy


def test_the_live_view_shows_one_row_for_a_count_two_doors_report() -> None:
    figures = RetailFigures()
    figures.apply("occupancy", "main-door", {"zone": "store", "count": 24, "scope": "store", "limit": 25})
    figures.apply("occupancy", "side-door", {"zone": "store", "count": 26, "scope": "store", "limit": 25,
                                             "alert": "over"})
    assert list(figures.occupancy) == ["main-door"]
    assert (figures.occupancy["main-door"].count, figures.occupancy["main-door"].over) == (26, True)


def test_events_stay_valid(tmp_path: Path) -> None:
    registry = OccupancyRegistry()
    door = registry.join("main-door", settings(limit=1, name="annex"), str(tmp_path), 0.0)
    events = door.enter(2, 1.0) + door.periodic(60.0)
    assert [(d.zone, d.alert) for d in only(events, "occupancy")] == [("annex", "over"), ("annex", None)]
