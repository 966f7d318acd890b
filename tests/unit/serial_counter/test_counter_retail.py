"""Serial counters' retail figures on scripted readings: staff badges, groups by time, shop front and capture rate."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import Any

import msgspec
import pytest

from drivers.sim.serial_counter import SerialCounterEmulator
from gateway.cli.liveview.figures import RetailFigures
from gateway.config import ConfigError, parse_config
from gateway.devices.context import DeviceContext
from gateway.devices.serial_counter.config import SerialCounterConfig
from gateway.devices.serial_counter.runner import counter_retail, release_counter_retail, run_device
from gateway.devices.shop_fronts import SHOP_FRONTS, ShopFrontBoard
from gateway.devices.signals import BOARD as BADGES
from gateway.devices.signals import BadgeBoard
from gateway.pipelines import Event
from gateway.pipelines.counter_retail import CounterRetail, CounterRetailSettings
from gateway.pipelines.counters import Baseline, FootfallCounter
from gateway.pipelines.passersby import capture_rate
from gateway.pipelines.people.badge_claims import BadgeCheck, BadgeClaims
from gateway.pipelines.people.badges import BadgeSightings

T0 = 1_763_799_960.0  # a multiple of 60 s
STAFF = "0c3f6a0e-8d5b-4c1e-9f4b-5a2d7e9c1b11"
CHECK = BadgeCheck(STAFF, rssi_min=-70, window_s=2.0)


def counter(interval_s: float = 60.0, **settings: Any) -> FootfallCounter:
    """A door counter with the given retail settings, its baseline (0, 0) read at T0."""
    door = FootfallCounter("door", interval_s, 16, retail=CounterRetail(CounterRetailSettings(**settings)))
    assert door.feed("s", 0, 0, T0) == []
    return door


def play(door: FootfallCounter, readings: list[tuple[float, int, int]], end: float) -> list[dict[str, Any]]:
    """Feed cumulative (offset, in, out) readings, tick to ``end``; the footfall payloads as JSON-like dicts."""
    events: list[Event] = []
    for offset, count_in, count_out in readings:
        events += door.feed("s", count_in, count_out, T0 + offset)
    events += door.tick(T0 + end)
    return [msgspec.to_builtins(e.data) for e in events if e.type == "footfall"]


# ---- staff badges ---------------------------------------------------------------------------------------

def test_a_badge_heard_near_a_reading_makes_one_of_its_people_staff() -> None:
    badges = BadgeSightings()
    badges.record(STAFF, -60, T0 + 7.5, f"{STAFF}/1/1")  # 2.5 s before the reading, 1.5 s before its span starts
    door = counter(staff=CHECK, badges=badges)
    (data,) = play(door, [(1, 0, 0), (6, 0, 0), (8, 0, 0), (10, 2, 0)], 60)  # span of the last: [8, 10]
    assert (data["in"], data["staff_in"], data["staff_out"]) == (1, 1, 0), "one badge, one of the two people"


@pytest.mark.parametrize("when, rssi", [(T0 + 4.0, -60), (T0 + 9.0, -80)], ids=["too early", "too weak"])
def test_a_badge_too_far_in_time_or_too_weak_is_not_staff(when: float, rssi: int) -> None:
    badges = BadgeSightings()
    badges.record(STAFF, rssi, when, f"{STAFF}/1/1")
    (data,) = play(counter(staff=CHECK, badges=badges), [(8, 0, 0), (10, 2, 0)], 60)
    assert (data["in"], data["staff_in"]) == (2, 0)


def linger(badges: BadgeSightings, start: float, end: float, minor: int = 1) -> None:
    """One badge heard once a second at the door from ``start`` to ``end`` (offsets from T0)."""
    t = start
    while t <= end:
        badges.record(STAFF, -60, T0 + t, f"{STAFF}/1/{minor}")
        t += 1.0


def test_a_badge_claims_one_person_per_direction_until_it_leaves_the_door() -> None:
    badges = BadgeSightings()
    linger(badges, 0, 20)  # a staff member chatting at the door for 20 s, customers walking past
    readings = [(float(t), t, 0) for t in range(1, 11)]  # one person in every second
    readings += [(11.0, 10, 1), (12.0, 10, 2), (13.0, 11, 2)]  # then two out, and one more in
    (data,) = play(counter(staff=CHECK, badges=badges), readings, 60)
    assert (data["staff_in"], data["in"]) == (1, 10), "eleven customers walk in next to one badge: one is staff"
    assert (data["staff_out"], data["out"]) == (1, 1), \
        "out was never claimed: one is staff (the limit), and claiming it did not re-arm in"


def test_a_badge_lingering_while_customers_alternate_in_and_out_is_one_staff_each_way() -> None:
    """The review's reproduction: a till by the entrance, its badge heard all along, customers in, out, in, ..."""
    badges = BadgeSightings()
    linger(badges, 0, 45)
    readings, people_in, people_out = [], 0, 0
    for i in range(1, 21):
        people_in, people_out = people_in + i % 2, people_out + (1 - i % 2)
        readings.append((2.0 * i, people_in, people_out))
    (data,) = play(counter(staff=CHECK, badges=badges), readings, 60)
    assert data["staff_in"] <= 1 and data["staff_out"] <= 1, "not every other customer"
    assert (data["in"] + data["staff_in"], data["out"] + data["staff_out"]) == (10, 10)


def test_one_badge_is_one_person_of_a_reading_with_people_both_ways() -> None:
    badges = BadgeSightings()
    linger(badges, 0, 3)
    (data,) = play(counter(staff=CHECK, badges=badges), [(1, 0, 0), (2, 1, 1)], 60)
    assert data["staff_in"] + data["staff_out"] == 1 and data["in"] + data["out"] == 1


def test_staff_walking_in_working_in_the_back_and_walking_out_is_staff_both_ways() -> None:
    badges = BadgeSightings()
    linger(badges, 0, 3)  # walks in at 2 s
    badges.record(STAFF, -85, T0 + 30.0, f"{STAFF}/1/1")  # in the back office: heard, but far from the door
    linger(badges, 60, 63)  # walks out at 62 s
    linger(badges, 100, 103)  # and back in at 102 s
    readings = [(1, 0, 0), (2, 1, 0), (3, 1, 0), (4, 2, 0),  # a customer right behind them: not staff
                (61, 2, 0), (62, 2, 1), (101, 2, 1), (102, 3, 1)]
    data = play(counter(interval_s=120, staff=CHECK, badges=badges), readings, 120)[0]
    assert (data["staff_in"], data["in"], data["staff_out"], data["out"]) == (2, 1, 1, 0)


def test_two_badges_claim_two_people_of_one_reading() -> None:
    badges = BadgeSightings()
    linger(badges, 0, 3, minor=1)
    linger(badges, 0, 3, minor=2)
    (data,) = play(counter(staff=CHECK, badges=badges), [(1, 0, 0), (2, 3, 0)], 60)
    assert (data["staff_in"], data["in"]) == (2, 1)


def test_a_badge_is_re_armed_after_leaving_the_door() -> None:
    badges = BadgeSightings()
    linger(badges, 0, 3)
    linger(badges, 30, 33)  # back 27 s later
    (data,) = play(counter(staff=CHECK, badges=badges), [(1, 0, 0), (2, 1, 0), (3, 2, 0), (31, 3, 0), (32, 4, 0)], 60)
    assert (data["staff_in"], data["in"]) == (2, 2)


def test_a_reading_of_unknown_span_is_never_staff() -> None:
    """The first reading after a silence longer than max_gap_s: its people cannot be put beside a sighting."""
    badges = BadgeSightings()
    linger(badges, 0, 60)
    (data,) = play(counter(staff=CHECK, badges=badges, max_gap_s=10.0), [(30, 2, 0)], 60)
    assert (data["staff_in"], data["in"]) == (0, 2)


def test_the_claims_are_the_cameras_for_a_point_in_time() -> None:
    """BadgeClaims without a span is the camera's rule: within window_s of the crossing, one claim per direction."""
    badges = BadgeSightings()
    badges.record(STAFF, -60, 100.0, "k")
    claims = BadgeClaims()
    assert not claims.claim(badges, CHECK, "door", "in", 1, 97.9)
    assert claims.claim(badges, CHECK, "door", "in", 2, 98.0)
    assert claims.claim(badges, CHECK, "door", "in", 2, 98.0), "the same crossing asked again"
    assert not claims.claim(badges, CHECK, "door", "in", 3, 99.0)
    assert claims.claim(badges, CHECK, "door", "out", 4, 99.5)
    assert not claims.claim(badges, CHECK, "door", "in", 5, 100.0), "claiming out does not re-arm in: only absence"
    assert not claims.claim(badges, CHECK, "door", "out", 6, 100.0)
    badges.record(STAFF, -60, 110.0, "k")  # away for 10 s (> window_s), back at the door
    assert claims.claim(badges, CHECK, "door", "in", 7, 110.0) and claims.claim(badges, CHECK, "door", "out", 8, 111.0)


# ---- groups by time -------------------------------------------------------------------------------------

def test_groups_by_time_only() -> None:
    readings = [(1, 0, 0), (2, 2, 0),  # two people in one 1 s reading: one group
                (3, 3, 0),  # one more a second later: joins it
                (4, 3, 0), (5, 3, 0), (6, 4, 0),  # 3 s after the last: a new group
                (7, 4, 2)]  # two out together
    (data,) = play(counter(group_window_s=1.5), readings, 60)
    assert (data["in"], data["groups_in"], data["out"], data["groups_out"]) == (4, 2, 2, 1)


def test_people_of_a_reading_longer_than_the_window_are_groups_of_their_own() -> None:
    (data,) = play(counter(group_window_s=1.5), [(3, 3, 0), (4, 4, 0)], 60)  # a 3 s span, then one a second later
    assert (data["in"], data["groups_in"]) == (4, 3), "the 3 s reading cannot tell; the next person joins the last"


def test_staff_are_not_in_groups_and_retail_fields_are_absent_unless_configured() -> None:
    badges = BadgeSightings()
    linger(badges, 0, 3)
    (data,) = play(counter(staff=CHECK, badges=badges, group_window_s=1.5), [(1, 0, 0), (2, 1, 0)], 60)
    assert (data["in"], data["staff_in"], data["groups_in"]) == (0, 1, 0)
    (plain,) = play(counter(), [(1, 0, 0), (2, 1, 0)], 60)
    assert set(plain) == {"line", "interval_start", "interval_s", "in", "out", "source"}


# ---- shop front: passers-by and capture rate ------------------------------------------------------------

def front_board(readings: list[tuple[float | None, float, int]], max_gap_s: float = 3.0) -> ShopFrontBoard:
    """A board watching "front", given its readings (span start, time, people), offsets from T0."""
    board = ShopFrontBoard()
    board.watch("front")
    for since, now, people in readings:
        board.post("front", None if since is None else T0 + since, T0 + now, people, max_gap_s)
    return board


def test_passers_by_and_capture_rate_come_from_the_front_in_the_same_interval() -> None:
    board = front_board([(0, 0, 0), *((t - 1, t, 3) for t in range(1, 21))])  # 3 people a second for 20 s
    door = counter(interval_s=10, passers_by=functools.partial(board.people, "front"))
    payloads = play(door, [(5, 2, 1), (12, 5, 1), (19, 6, 2)], 20)
    assert [(d["in"], d.get("passers_by"), d.get("capture_rate")) for d in payloads] == [
        (2, 27, capture_rate(2, 27)), (4, 30, 0.133)], "[T0, 10): readings at 1..9 s; [10, 20): 10..19 s"
    assert board.people("front", T0 + 10, T0 + 20) == 30
    assert board.watching("front") and not board.post("elsewhere", T0, T0 + 1, 5, 3.0), "nobody watches it"


def test_a_front_that_stops_reporting_gives_no_passers_by_rather_than_0_or_a_partial_rate() -> None:
    board = front_board([(0, 0, 0), *((t - 1, t, 3) for t in range(1, 13))])  # silent after 12 s
    door = counter(interval_s=10, passers_by=functools.partial(board.people, "front"))
    payloads = play(door, [(5, 2, 0), (15, 4, 0), (25, 6, 0)], 30)
    assert [d.get("passers_by") for d in payloads] == [27, None, None]
    assert all("capture_rate" not in d and "passers_by" not in d for d in payloads[1:]), "absent, not null or 0"
    assert payloads[1]["in"] == 2, "the door's own counts stay"


def test_a_front_that_started_late_or_had_a_hole_gives_no_passers_by() -> None:
    late = front_board([(5, 5, 0), (5, 6, 2), (6, 7, 2), (7, 8, 1), (8, 9, 0), (9, 10, 1)])
    assert late.people("front", T0, T0 + 10) is None and late.people("front", T0 + 5, T0 + 10) == 5
    hole = front_board([(0, 0, 0), (0, 1, 2), (None, 8, 9), (8, 9, 1)])  # silent 1..8 s: the 9 people are unplaced
    assert hole.people("front", T0, T0 + 10) is None and hole.people("front", T0 + 8, T0 + 10) == 1
    assert hole.people("nobody", T0, T0 + 10) is None


def test_a_door_reading_of_unknown_span_leaves_its_interval_without_passers_by() -> None:
    """The first reading after a start holds whoever passed while the daemon was down: not comparable."""
    board = front_board([(0, 0, 0), *((t - 1, t, 3) for t in range(1, 21))])
    # the baseline was saved by the previous run: the first reading's span is unknown
    door = FootfallCounter("door", 10, 16, baseline=Baseline("s", 0, 0), retail=CounterRetail(CounterRetailSettings(
        passers_by=functools.partial(board.people, "front"))))
    payloads = play(door, [(5, 7, 0), (15, 9, 0)], 20)
    assert [d.get("passers_by") for d in payloads] == [None, 30]


def test_the_board_merges_empty_readings_and_forgets_old_ones() -> None:
    board = ShopFrontBoard(keep_s=100.0)
    board.watch("front")
    for t in range(1, 1001):
        board.post("front", T0 + t - 1, T0 + t, 1 if t % 100 == 0 else 0, 3.0)
    assert board.readings_held("front") <= 4, "empty seconds are one span; older than keep_s gone"
    assert board.people("front", T0 + 950, T0 + 1000) == 0 and board.people("front", T0 + 950, T0 + 1001) == 1
    assert board.people("front", T0 + 100, T0 + 1000) is None, "forgotten is not counted as nobody"


def test_a_front_is_kept_while_some_door_watches_it_and_freed_by_the_last_unwatch() -> None:
    board = ShopFrontBoard()
    board.watch("front", "door-1")
    board.watch("front", "door-1")  # watched twice by one door
    board.watch("front", "door-2")
    for t in range(1, 101):
        board.post("front", T0 + t - 1, T0 + t, 1, 3.0)
    board.unwatch("front", "door-1")
    board.unwatch("front", "door-2")
    board.unwatch("front", "door-2")  # stopped twice: takes nothing from door-1
    board.unwatch("front", "door-3")  # never watched
    assert board.watching("front") and board.readings_held("front") == 100, "door-1 still watches it once"
    board.unwatch("front", "door-1")
    assert not board.watching("front") and board.readings_held("front") == 0, "its readings are freed"
    assert not board.post("front", T0 + 100, T0 + 101, 1, 3.0), "nobody watches: nothing kept"
    board.watch("front", "door-1")
    assert board.people("front", T0, T0 + 100) is None, "a new watch starts afresh"


def test_a_counter_gives_back_its_badge_and_front_watches() -> None:
    board, fronts = BadgeBoard(), ShopFrontBoard()
    cfg = msgspec.convert({"id": "door", "port": "/nonexistent", "shop_front": "front",
                           "staff": {"badge_uuid": STAFF, "badge_scanner": "door-ble"}}, SerialCounterConfig)
    other = msgspec.convert({"id": "door-2", "port": "/nonexistent", "shop_front": "front"}, SerialCounterConfig)
    retail = counter_retail(cfg, board, fronts)
    counter_retail(other, board, fronts)
    assert retail.settings.badges is board.watch("door-ble", STAFF, "test")
    board.unwatch("door-ble", STAFF, "test")
    release_counter_retail(cfg, board, fronts)
    assert not board.watching("door-ble") and fronts.watching("front"), "the other door still has the front"
    release_counter_retail(other, board, fronts)
    assert not fronts.watching("front")


async def test_a_stopped_counter_runner_unwatches_its_scanner_and_front(tmp_path: Path) -> None:
    cfg = msgspec.convert({"id": "door-x", "port": str(tmp_path / "no-such-tty"), "shop_front": "front-x",
                           "read_timeout_s": 0.1, "staff": {"badge_uuid": STAFF, "badge_scanner": "scanner-x"}},
                          SerialCounterConfig)
    ctx = DeviceContext("door-x", sink=None, data_dir=str(tmp_path))  # type: ignore[arg-type]
    task = asyncio.create_task(run_device(cfg, ctx))  # its port never opens: it waits, retrying, until cancelled
    for _ in range(100):
        if BADGES.watching("scanner-x"):
            break
        await asyncio.sleep(0.01)
    assert BADGES.watching("scanner-x") and SHOP_FRONTS.watching("front-x")
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert not BADGES.watching("scanner-x") and not SHOP_FRONTS.watching("front-x"), "a stopped door watches nothing"


def test_the_front_counter_hands_its_customers_per_reading() -> None:
    """What the runner posts: each counted reading's span and customers both ways; a restart counts from then."""
    retail = CounterRetail()
    door = FootfallCounter("front", 10, 16, retail=retail)
    door.feed("s", 5, 5, T0 + 1)
    assert retail.take_reading() == (T0 + 1, T0 + 1, 0) and retail.take_reading() is None
    door.feed("s", 7, 6, T0 + 2)
    assert retail.take_reading() == (T0 + 1, T0 + 2, 3)


# ---- config, live view, emulator ------------------------------------------------------------------------

HEAD = '[gateway]\nstore_id = "s"\ngateway_id = "g"\n[mqtt]\nurl = "mqtt://127.0.0.1"\n\n'
SCANNER = '[[devices]]\nid = "door-ble"\nkind = "ble"\n\n'


def door(extra: str) -> str:
    """A door counter and a front counter, the door with ``extra`` keys."""
    return (f'[[devices]]\nid = "door"\nkind = "serial_counter"\nport = "/dev/ttyUSB0"\n{extra}\n\n'
            '[[devices]]\nid = "front"\nkind = "serial_counter"\nport = "/dev/ttyUSB1"\n')


@pytest.mark.parametrize("extra, key, message", [
    ('shop_front = "frnt"', "devices[0].shop_front",
     "'frnt' is not the id of a serial counter; name the serial_counter across the shop front (front)"),
    ('shop_front = "door"', "devices[0].shop_front",
     "'door' is this counter itself; name the serial_counter across the shop front (front)"),
    (f'staff = {{badge_uuid = "{STAFF}", badge_scanner = "door-bel"}}', "devices[1].staff.badge_scanner",
     "'door-bel' is not the id of a ble device (door-ble)"),
])
def test_config_check_refuses_a_shop_front_or_badge_scanner_naming_no_such_device(extra: str, key: str,
                                                                                 message: str) -> None:
    source = HEAD + (SCANNER if "staff" in extra else "") + door(extra)
    with pytest.raises(ConfigError) as caught:
        parse_config(source, "c.toml")
    (problem,) = caught.value.problems
    assert (problem.key, problem.message) == (key, message)
    assert problem.line == source.splitlines().index(extra) + 1, "the line of the key"
    fixed = extra.replace("frnt", "front").replace('"door"', '"front"').replace("door-bel", "door-ble")
    config = parse_config(HEAD + (SCANNER if "staff" in extra else "") + door(fixed), "c.toml")
    assert config.devices[0].id in ("door", "door-ble")


def test_a_counters_staff_is_badges_only() -> None:
    for staff in ("{uniform = true}", "{badge_rssi_min = -60}"):
        with pytest.raises(ConfigError):
            parse_config(HEAD + SCANNER + door(f"staff = {staff}"), "c.toml")


def test_the_live_figures_rate_only_the_intervals_that_had_passers_by() -> None:
    figures = RetailFigures()
    base = {"line": "door", "source": "serial_counter", "out": 0}
    figures.apply("footfall", "door-counter", {**base, "in": 9})  # the front had not reported all of it
    figures.apply("footfall", "door-counter", {**base, "in": 3, "passers_by": 30, "capture_rate": 0.1,
                                               "staff_in": 1, "staff_out": 0, "groups_in": 2, "groups_out": 0})
    (line,) = figures.lines.values()
    assert line.capture_rate == 0.1 and line.counts["in"] == 12 and line.counts["staff_in"] == 1
    assert figures.any()


def test_the_emulator_lets_people_arrive_in_groups_at_the_same_rate() -> None:
    emulator = SerialCounterEmulator(link="/nonexistent", people_per_minute=60.0, max_group_size=3, seed=5)
    steps = []
    for _ in range(600):
        before = emulator.count_in + emulator.count_out
        emulator._simulate_people(1.0)  # no pty, no thread: the scene alone
        steps.append(emulator.count_in + emulator.count_out - before)
    assert 590 <= sum(steps) <= 600, "60 a minute"
    assert {1, 2, 3} <= set(steps) and max(steps) <= 3
    with pytest.raises(ValueError):
        SerialCounterEmulator(link="/nonexistent", max_group_size=0)
