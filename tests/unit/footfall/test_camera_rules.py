"""A camera config's staff and children keys become crossing rules that reach the footfall counts."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest

from drivers.base import DriverState, DriverStats
from drivers.ble.adverts import Advert
from drivers.ble.decoders import APPLE, encode_ibeacon
from gateway.devices.camera.config import CameraConfig
from gateway.devices.camera.retail import retail_settings
from gateway.devices.camera.rules import (
    StaffFileWatch,
    crossing_rules,
    readable_uniforms,
    release_rules,
    set_frame_size,
)
from gateway.devices.camera.staff_store import UniformSample, save_uniform, staff_path
from gateway.devices.context import DeviceContext
from gateway.devices.signals import BadgeBoard, post_advert
from gateway.pipelines.footfall import FootfallPipeline, FootfallSettings
from gateway.pipelines.people.children import ChildRule
from gateway.pipelines.people.staff import StaffRule
from tests.unit.footfall.support import DOOR, FPS, feed, only, path, scene

BADGE = "0c3f6a0e-8d5b-4c1e-9f4b-5a2d7e9c1b11"
LINE = {"name": "door", "x1": 320, "y1": 0, "x2": 320, "y2": 480, "inside": [600, 240]}
OUTSIDE = {"x1": 100, "y1": 0, "x2": 100, "y2": 480}
STAFF_BADGE = {"badge_uuid": BADGE, "badge_scanner": "door-ble", "badge_rssi_min": -70, "badge_window_s": 3.0}


def camera(**keys: Any) -> CameraConfig:
    """A camera config with the door line (and its outside line) plus the given keys."""
    line = {**LINE, "outside": OUTSIDE, **keys.pop("line", {})}
    return msgspec.convert({"id": "cam", "kind": "camera", "source": "0", "lines": [line], **keys}, CameraConfig)


def badge(board: BadgeBoard, t: float, rssi: int = -60, uuid: str = BADGE) -> None:
    """The door scanner hears a staff badge at ``t`` (through the BLE runner's hand-over)."""
    post_advert("door-ble", Advert(t=t, address="C0:FF:EE:00:00:09", rssi=rssi,
                                   manufacturer_data={APPLE: encode_ibeacon(uuid, 1, 1)}), board)


def pipeline_of(cfg: CameraConfig, rules: list[Any]) -> FootfallPipeline:
    """The camera's footfall pipeline with its retail settings and rules, one-hour intervals."""
    retail = retail_settings(cfg)
    return FootfallPipeline(FootfallSettings(lines=[DOOR], interval_s=3600, shop_fronts=retail.shop_fronts,
                                             rules=rules))


def counted(pipe: FootfallPipeline, frames: list[list[list[float]]]) -> dict[str, Any]:
    """The one footfall interval of a fed and finished pipeline."""
    events = feed(pipe, frames)
    events += pipe.finish(len(frames) / FPS)
    (data,) = only(events, "footfall")
    return msgspec.to_builtins(data)


def test_nothing_is_built_by_default() -> None:
    assert crossing_rules(camera(), board=BadgeBoard()) == []


def test_a_staff_badge_near_a_crossing_takes_it_out_of_in_and_out_of_passers_by() -> None:
    board = BadgeBoard()
    cfg = camera(line={"staff": STAFF_BADGE})
    rules = crossing_rules(cfg, board=board)
    assert [type(r) for r in rules] == [StaffRule]
    pipe = pipeline_of(cfg, rules)
    badge(board, 2.0)  # a staff member at the door at t = 2 s
    badge(board, 20.0, rssi=-85)  # too far: a badge on the pavement
    badge(board, 30.0, uuid="11111111-2222-3333-4444-555555555555")  # another beacon, not watched
    walk_in = path([(40, 300), (500, 300)], 30)  # crosses the outside line and then the door
    frames = scene((0.0, walk_in), (18.0, walk_in), (28.0, walk_in), (40.0, walk_in))
    data = counted(pipe, frames)
    # the staff member crosses both lines within 3 s of the badge; the others are customers
    assert (data["in"], data["staff_in"]) == (3, 1)
    assert data["passers_by"] == 3, "staff walking past the shop front are not passers-by"
    assert len(board.watch("door-ble", BADGE)) == 2, "the watched UUID only (at any strength)"


def test_a_badge_heard_by_another_scanner_does_not_count() -> None:
    board = BadgeBoard()
    cfg = camera(line={"staff": STAFF_BADGE})
    pipe = pipeline_of(cfg, crossing_rules(cfg, board=board))
    post_advert("till-ble", Advert(t=2.0, address="C0:FF:EE:00:00:09", rssi=-50,
                                   manufacturer_data={APPLE: encode_ibeacon(BADGE, 1, 1)}), board)
    data = counted(pipe, scene((0.0, path([(200, 300), (500, 300)], 30))))
    assert (data["in"], data.get("staff_in", 0)) == (1, 0)


def test_uniform_samples_reach_the_staff_rule() -> None:
    cfg = camera(line={"staff": {"uniform": True, "uniform_max_distance": 9.0}})
    uniform = UniformSample(name="red", signature=[50.0] * 36, frames=10, taken_at=0.0)
    (rule,) = crossing_rules(cfg, [uniform], board=BadgeBoard())
    assert isinstance(rule, StaffRule) and rule.uniforms.shape == (1, 36)
    assert rule.policies["door"].uniform_max_distance == 9.0 and rule.policies["door:outside"].uniform


def test_children_with_a_manual_adult_height_come_after_staff_and_count_apart() -> None:
    cfg = camera(line={"staff": STAFF_BADGE}, children={"enabled": True, "adult_height_px": 160,
                                                       "child_height_share": 0.75})
    rules = crossing_rules(cfg, board=BadgeBoard())
    assert [type(r) for r in rules] == [StaffRule, ChildRule]
    pipe = pipeline_of(cfg, rules)
    adult = path([(200, 300), (500, 300)], 30)
    frames = scene((0.0, adult), (10.0, adult))
    for k in range(len(adult)):  # the second person is a child: a 90 px box where adults are 160
        box = frames[100 + k][0]
        box[1] = box[3] - 90
    data = counted(pipe, frames)
    assert (data["in"], data["child_in"]) == (1, 1)


def test_the_first_frame_sizes_the_child_grid_once() -> None:
    cfg = camera(children={"enabled": True, "grid": [4, 3]})
    (rule,) = crossing_rules(cfg, board=BadgeBoard())
    assert rule.model.cell_of(630, 470) == (7, 5), "no frame size yet: 80 px cells"
    set_frame_size([rule], 640, 480)
    set_frame_size([rule], 1920, 1080)  # later calls change nothing
    assert rule.model.settings.frame_size == (640, 480) and rule.model.cell_of(630, 470) == (3, 2)


async def test_a_corrupt_staff_file_fails_the_camera_once_then_recovers(tmp_path: Path,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    cfg = camera(line={"staff": {"uniform": True}})
    path_ = Path(staff_path(str(tmp_path), "cam"))
    path_.parent.mkdir()
    path_.write_text("{not json")
    ctx = DeviceContext("cam", sink=None, stats=DriverStats(), data_dir=str(tmp_path))  # type: ignore[arg-type]
    task = asyncio.create_task(readable_uniforms(cfg, ctx, recheck_s=0.01))
    while ctx.stats.errors.get("staff_file") is None:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # several rechecks of the same bad file
    assert not task.done() and ctx.stats.state == DriverState.FAILED
    assert ctx.stats.errors == {"staff_file": 1}, "said once, not once per recheck"
    assert "storegw camera staff-sample cam" in (ctx.stats.last_error or "")
    path_.unlink()
    save_uniform(str(tmp_path), "cam", UniformSample(name="red", signature=[1.0] * 36, frames=5, taken_at=0.0))
    uniforms = await asyncio.wait_for(task, 5)
    assert [u.name for u in uniforms] == ["red"]
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1


async def test_no_uniform_check_means_the_staff_file_is_not_read(tmp_path: Path) -> None:
    cfg = camera(line={"staff": STAFF_BADGE})
    Path(tmp_path / "staff").mkdir()
    Path(staff_path(str(tmp_path), "cam")).write_text("{not json")
    ctx = DeviceContext("cam", sink=None, data_dir=str(tmp_path))  # type: ignore[arg-type]
    assert await readable_uniforms(cfg, ctx) == []



def test_a_badge_lingering_at_the_door_while_customers_walk_in_is_not_five_staff() -> None:
    # the review's reproduction: one badge heard at the door for a minute, five customers walk in, staff never crosses
    board = BadgeBoard()
    cfg = camera(line={"staff": STAFF_BADGE})
    pipe = pipeline_of(cfg, crossing_rules(cfg, board=board))
    for t in range(0, 60):
        badge(board, float(t))
    walk_in = path([(200, 300), (500, 300)], 30)
    data = counted(pipe, scene(*[(10.0 * i, walk_in) for i in range(5)]))
    assert data.get("staff_in", 0) <= 1 and data["in"] >= 4 and data["in"] + data.get("staff_in", 0) == 5


def test_a_badge_lingering_while_customers_alternate_in_and_out_is_one_staff_each_way() -> None:
    # the review's reproduction: a till by the entrance, its badge heard all along, customers in, out, in, ...
    board = BadgeBoard()
    cfg = camera(line={"staff": STAFF_BADGE})
    pipe = pipeline_of(cfg, crossing_rules(cfg, board=board))
    for t in range(0, 85):
        badge(board, float(t))
    walk_in, walk_out = path([(200, 300), (500, 300)], 30), path([(500, 300), (200, 300)], 30)
    data = counted(pipe, scene(*[(4.0 * i, walk_in if i % 2 == 0 else walk_out) for i in range(20)]))
    assert data.get("staff_in", 0) <= 1 and data.get("staff_out", 0) <= 1, data
    assert data["in"] + data.get("staff_in", 0) == 10 and data["out"] + data.get("staff_out", 0) == 10


def test_staff_walking_in_working_in_the_back_and_walking_out_is_staff_both_ways() -> None:
    board = BadgeBoard()
    cfg = camera(line={"staff": STAFF_BADGE})
    pipe = pipeline_of(cfg, crossing_rules(cfg, board=board))
    for start in (0.0, 59.0, 119.0):  # at the door walking in, walking out, back in; in the back office between
        for t in range(5):
            badge(board, start + t)
    badge(board, 30.0, rssi=-85)  # heard from the back office: too weak
    walk_in, walk_out = path([(200, 300), (500, 300)], 30), path([(500, 300), (200, 300)], 30)
    data = counted(pipe, scene((0.0, walk_in), (30.0, walk_in), (60.0, walk_out), (90.0, walk_out),
                               (120.0, walk_in)))
    assert (data.get("staff_in"), data["in"], data.get("staff_out"), data["out"]) == (2, 1, 1, 1), data


def test_crossing_rules_watch_for_the_camera_and_release_rules_gives_the_watches_back() -> None:
    board = BadgeBoard()
    cfg = camera(line={"staff": STAFF_BADGE})
    crossing_rules(cfg, board=board)
    crossing_rules(camera(id="cam-2", line={"staff": STAFF_BADGE}), board=board)
    release_rules(cfg, board)
    release_rules(cfg, board)  # stopped twice: takes nothing from cam-2
    assert board.watched("door-ble") == {BADGE}, "cam-2 still checks that badge"
    release_rules(camera(id="cam-2", line={"staff": STAFF_BADGE}), board)
    assert not board.watching("door-ble")
    badge(board, 1.0)
    assert len(board.watch("door-ble", BADGE)) == 0, "unwatched: no longer recorded"


class IdleCamera:
    """A camera driver that grabs nothing until cancelled."""

    grabbed = taken = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    async def run(self, on_frame: Any) -> None:
        """Wait for the cancel."""
        await asyncio.Event().wait()

    def latest(self) -> None:
        """No frame yet."""

    def shutdown(self) -> None:
        """Nothing to release."""


async def test_a_stopped_camera_runner_unwatches_its_badge_scanner(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import gateway.vision.setup
    from gateway.devices.camera import runner
    from gateway.devices.signals import BOARD

    pipeline = SimpleNamespace(totals={}, tick=lambda now: [], finish=lambda now: [],
                               tracker=SimpleNamespace(tracks={}))
    engine = SimpleNamespace(pipeline=pipeline, demographics=None, frames=0, detected_frames=0)
    monkeypatch.setattr(gateway.vision.setup, "build_engine", lambda *args, **kwargs: engine)
    monkeypatch.setattr(runner, "CameraDriver", IdleCamera)
    cfg = camera(id="cam-x", line={"staff": {**STAFF_BADGE, "badge_scanner": "scanner-cam-x"}})
    ctx = DeviceContext("cam-x", sink=None, stats=DriverStats(), data_dir=str(tmp_path))  # type: ignore[arg-type]
    task = asyncio.create_task(runner.run_device(cfg, ctx))
    for _ in range(100):
        if BOARD.watching("scanner-cam-x"):
            break
        await asyncio.sleep(0.01)
    assert BOARD.watched("scanner-cam-x") == {BADGE}
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert not BOARD.watching("scanner-cam-x"), "a stopped camera watches nothing"


async def test_a_new_sample_reaches_the_running_camera_and_none_is_said_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = camera(line={"staff": {"uniform": True}})
    ctx = DeviceContext("cam", sink=None, stats=DriverStats(), data_dir=str(tmp_path))  # type: ignore[arg-type]
    rules = crossing_rules(cfg, [], board=BadgeBoard())
    with caplog.at_level(logging.WARNING):
        watch = StaffFileWatch(cfg, ctx, rules, [], every_s=0.0)
        assert not await watch.check(), "no file, nothing changed"
    assert sum("staff-sample cam" in r.getMessage() for r in caplog.records) == 1, "said once"
    save_uniform(str(tmp_path), "cam", UniformSample(name="red", signature=[50.0] * 36, frames=5, taken_at=0.0))
    watch.poll()
    assert watch.task is not None
    await watch.task
    assert rules[0].uniforms.shape == (1, 36), "matched without a restart"
    assert not await watch.check(), "same mtime: not read again"


def test_a_u_turn_by_a_badged_staff_member_leaves_the_badge_for_the_crossing_that_follows() -> None:
    # the shop front asks the staff rule about the U-turn ("front"); that question has its own claim, so the
    # same badge still takes the staff member's real crossing a moment later out of `in`
    board = BadgeBoard()
    cfg = camera(line={"staff": STAFF_BADGE, "outside": None, "u_turn_distance": 0.5})
    pipe = pipeline_of(cfg, crossing_rules(cfg, board=board))
    for t in range(0, 8):
        badge(board, float(t))
    u_turn = path([(60, 300), (280, 300), (60, 300)], 20)  # up to 40 px from the door, then back the way it came
    walk_in = path([(200, 300), (500, 300)], 30)
    customer_turn = path([(60, 300), (280, 300), (60, 300)], 20)
    data = counted(pipe, scene((0.0, u_turn), (4.5, walk_in), (30.0, customer_turn)))
    assert data.get("staff_in") == 1 and data["in"] == 0, "the badge's crossing is staff's"
    assert data["u_turns"] == 1, "the staff U-turn is left out, the customer's later one is counted"
