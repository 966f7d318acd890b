"""Store occupancy across a restart: a crash counts nobody twice, the daily reset is not skipped, saves keep order."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from gateway.devices import store_occupancy
from gateway.devices.occupancy_state import SavedOccupancy, state_path
from gateway.devices.store_occupancy import OccupancyRegistry
from gateway.pipelines.counters import Baseline, FootfallCounter
from gateway.pipelines.occupancy import OccupancySettings, next_local, parse_hhmm, same_business_day

BERLIN = ZoneInfo("Europe/Berlin")
T0 = 1_800_000_900.0  # a multiple of 900 and of 60


def at(text: str) -> float:
    """Epoch seconds of a Berlin wall-clock time "YYYY-MM-DD HH:MM:SS"."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=BERLIN).timestamp()


def test_a_crash_after_the_occupancy_save_does_not_count_a_doors_people_twice(tmp_path: Path) -> None:
    registry, group = OccupancyRegistry(), OccupancySettings()
    fast = registry.join("a-door", group, str(tmp_path), T0, interval_s=60.0)  # publishes (and saves) every minute
    slow = registry.join("b-door", group, str(tmp_path), T0, interval_s=900.0)
    counter_a = FootfallCounter("a", 60.0, 16, Baseline("1", 0, 0), fast)
    counter_b = FootfallCounter("b", 900.0, 16, Baseline("2", 0, 0), slow)
    on_disk = Baseline("2", 0, 0)  # b-door's footfall baseline: saved only when its 15-minute interval closes
    for second in range(1, 311):  # ten people in by b-door in five minutes; a-door's minutes save the count
        counter_b.feed("2", min(10, second // 30), 0, T0 + second)
        counter_a.feed("1", 0, 0, T0 + second)
    assert fast.count == 10
    # power cut: no stop-time save. Started again 20 s later
    after = OccupancyRegistry()
    door_b = after.join("b-door", group, str(tmp_path), T0 + 330, interval_s=900.0)
    after.join("a-door", group, str(tmp_path), T0 + 330, interval_s=60.0)
    restarted = FootfallCounter("b", 900.0, 16, on_disk, door_b)
    restarted.feed("2", 10, 0, T0 + 331)
    assert door_b.count == 10, "the restored count includes b-door's ten already: not 20"
    assert restarted.people_in == 10, "footfall still recounts the open interval from its own baseline"


def test_a_crash_just_before_the_occupancy_save_loses_nobody(tmp_path: Path) -> None:
    group = OccupancySettings()
    door = OccupancyRegistry().join("b-door", group, str(tmp_path), T0, interval_s=60.0)
    counter = FootfallCounter("b", 60.0, 16, Baseline("2", 0, 0), door)
    counter.feed("2", 3, 0, T0 + 10)
    assert counter.tick(T0 + 60)  # the count (3, with reading 3 in) is saved with the interval's end
    counter.feed("2", 5, 0, T0 + 70)  # two more; the baseline file would say 5 after the next interval ...
    on_disk = Baseline("2", 5, 0)  # ... which closes, but the power goes before the count is saved again
    again = OccupancyRegistry().join("b-door", group, str(tmp_path), T0 + 130, interval_s=60.0)
    assert again.count == 3 and again.saved_reading is not None
    restarted = FootfallCounter("b", 60.0, 16, on_disk, again)
    restarted.feed("2", 6, 0, T0 + 131)
    assert again.count == 6, "the two after the save come from the door's saved reading, the new one from now"
    assert restarted.people_in == 1
    other = FootfallCounter("b", 60.0, 16, on_disk, OccupancyRegistry().join("b-door", group, str(tmp_path),
                                                                             T0 + 130, interval_s=60.0))
    other.feed("9", 1, 0, T0 + 131)  # another sensor: its reading means nothing against the saved one
    assert other.occupancy is not None and other.occupancy.count == 3


def test_a_reset_between_the_restart_and_the_first_reading_applies(tmp_path: Path) -> None:
    group = OccupancySettings(reset_at=parse_hhmm("22:30"), tz=BERLIN)
    door = OccupancyRegistry().join("door", group, str(tmp_path), at("2026-03-10 21:00:00"))
    door.enter(12, at("2026-03-10 21:00:01"))
    door.close(at("2026-03-10 22:00:00"))
    restored = OccupancyRegistry().join("door", group, str(tmp_path), at("2026-03-10 22:05:00"))
    assert restored.count == 12
    counter = FootfallCounter("door", 60.0, 16, Baseline("1", 0, 0), restored)
    counter.tick(at("2026-03-10 22:29:59"))
    assert restored.count == 12
    counter.tick(at("2026-03-10 22:40:00"))  # the counter has read nothing yet (unplugged): closing still resets
    assert restored.count == 0 and restored.shared.store.daily_resets == 1
    counter.feed("1", 1, 0, at("2026-03-11 09:00:00"))
    assert restored.count == 1


@pytest.mark.parametrize("restart", ["2026-03-10 22:29:00", "2026-03-11 09:00:00", "2026-03-10 22:31:00"])
def test_the_restore_rule_and_the_next_reset_agree(tmp_path: Path, restart: str) -> None:
    group = OccupancySettings(reset_at=parse_hhmm("22:30"), tz=BERLIN)
    saved_at, now = at("2026-03-10 22:20:00"), at(restart)
    door = OccupancyRegistry().join("door", group, str(tmp_path), saved_at)
    door.enter(4, saved_at)
    door.close(saved_at)
    again = OccupancyRegistry().join("door", group, str(tmp_path), now)
    kept = same_business_day(saved_at, now, group.reset_at, BERLIN)
    assert again.count == (4 if kept else 0)
    again.step(now)
    reset = next_local(saved_at, parse_hhmm("22:30"), BERLIN)
    assert again.count == (4 if now < reset else 0), "a kept count is reset at the first 22:30 after its save"


class HeldExecutor(concurrent.futures.ThreadPoolExecutor):
    """An executor that runs nothing until told: a save queued on it waits."""

    def __init__(self) -> None:
        """No work held yet."""
        super().__init__(max_workers=1)
        self.held: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        """Keep ``fn`` for later."""
        self.held.append((fn, args))
        return concurrent.futures.Future()


def test_a_save_from_the_loop_is_written_off_it_and_never_over_a_newer_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writes: list[tuple[int, int]] = []
    real = store_occupancy.save_state

    def spy(path: str, name: str, saved: SavedOccupancy) -> None:
        """Record which thread writes which count."""
        writes.append((threading.get_ident(), saved.count))
        real(path, name, saved)

    monkeypatch.setattr(store_occupancy, "save_state", spy)
    door = OccupancyRegistry().join("door", OccupancySettings(), str(tmp_path), 100.0)
    held = HeldExecutor()

    async def serial_counter() -> None:
        """A door counter's interval end, then its stop, on the event loop."""
        asyncio.get_running_loop().set_default_executor(held)
        door.enter(3, 101.0)
        assert [e.data.count for e in door.periodic(160.0)] == [3]
        assert writes == [], "no fsync on the event loop"
        door.enter(2, 161.0)
        door.close(170.0)  # stop: written at once, the process may end next

    asyncio.run(serial_counter())
    for fn, args in held.held:  # the interval's save runs late, after the stop-time one
        worker = threading.Thread(target=fn, args=args)
        worker.start()
        worker.join()
    assert [count for _, count in writes] == [5], "the older snapshot is not written over the newer"
    assert json.loads(Path(state_path(str(tmp_path), "store")).read_text())["count"] == 5
