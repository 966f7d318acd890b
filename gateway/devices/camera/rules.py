"""A camera config's staff and child settings -> the footfall pipeline's crossing rules (staff first, then child).

Uniforms come from ``{data_dir}/staff/{camera_id}.json`` (``storegw camera staff-sample``), badges from the
door scanner's sightings on the process-wide board (``gateway.devices.signals``). A staff policy also
covers the line's outside line (``<line>:outside``), so staff walking past the shop front are not passers-by.
The badge watches ``crossing_rules`` takes are the camera's (its id): ``release_rules`` gives them back when
it stops, so a camera removed by a reload no longer has its badge UUID recorded (and kept out of presence).
The staff file is read again when it changes (``StaffFileWatch``), so a new sample needs no restart.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from drivers.base import DriverState
from gateway.devices.camera.config import CameraConfig
from gateway.devices.camera.staff_config import StaffConfig
from gateway.devices.camera.staff_store import UniformSample, load_uniforms, staff_path
from gateway.devices.context import DeviceContext
from gateway.devices.signals import BOARD, BadgeBoard
from gateway.pipelines.people.children import ChildRule, ChildSettings
from gateway.pipelines.people.heights import HeightModel, HeightSettings
from gateway.pipelines.people.staff import LineStaffPolicy, StaffRule
from gateway.vision.geometry import CountingLine

RELOAD_S = 5.0
"""How often (seconds, at most) the running camera looks at its staff file's mtime."""


def wants_uniforms(cfg: CameraConfig) -> bool:
    """Does some line of this camera check uniforms (so the staff file must be read)?"""
    return any(ln.staff is not None and ln.staff.uniform for ln in cfg.lines)


def _policy(staff: StaffConfig, board: BadgeBoard, watcher: str, line: CountingLine | None = None) -> LineStaffPolicy:
    """One line's staff policy; ``watcher`` watching its scanner for its badge UUID when it checks badges."""
    badges = board.watch(staff.badge_scanner, staff.badge_uuid, watcher) if staff.badge_uuid else None
    return LineStaffPolicy(uniform=staff.uniform, uniform_max_distance=staff.uniform_max_distance,
                           badge_uuid=staff.badge_uuid, badge_rssi_min=staff.badge_rssi_min,
                           badge_window_s=staff.badge_window_s, badges=badges, line=line)


def crossing_rules(cfg: CameraConfig, uniforms: Sequence[UniformSample] = (), board: BadgeBoard = BOARD,
                   frame_size: tuple[int, int] | None = None) -> list[Any]:
    """The camera's crossing rules in order: staff, then child; [] when neither is configured."""
    policies: dict[str, LineStaffPolicy] = {}
    for line in cfg.lines:
        if line.staff is None:
            continue
        # the geometry gives a badge claim its direction (one claim per badge and direction)
        geometry = CountingLine(line.name, (line.x1, line.y1), (line.x2, line.y2), (line.inside[0], line.inside[1]))
        policies[line.name] = policy = _policy(line.staff, board, cfg.id, geometry)
        if line.outside is not None:
            # the pipeline asks about an outside-line crossing by that line's name; claims there are its own
            policies[f"{line.name}:outside"] = dataclasses.replace(policy, line=None)
    rules: list[Any] = []
    if policies:
        rules.append(StaffRule(policies, [np.array(u.signature, np.float32) for u in uniforms]))
    children = cfg.children
    if children.enabled:
        rules.append(ChildRule(ChildSettings(
            child_height_share=children.child_height_share, adult_height_px=children.adult_height_px,
            adult_height_rows=tuple(children.adult_height_rows),
            heights=HeightSettings(grid=(children.grid[0], children.grid[1]), frame_size=frame_size,
                                   warmup=children.warmup_tracks, history=children.history_tracks))))
    return rules


def release_rules(cfg: CameraConfig, board: BadgeBoard = BOARD) -> None:
    """The camera stops: undo each badge watch ``crossing_rules`` took for it (one per badge-checking line)."""
    for line in cfg.lines:
        if line.staff is not None and line.staff.badge_uuid:
            board.unwatch(line.staff.badge_scanner, line.staff.badge_uuid, cfg.id)


def set_frame_size(rules: Sequence[Any], width: int, height: int) -> None:
    """The first frame's size for the child rule's grid; only before it has learnt anything (cells would move)."""
    for rule in rules:
        if (isinstance(rule, ChildRule) and rule.model.settings.frame_size is None
                and rule.model.size() == 0 and rule.tracks_held() == 0):
            rule.model = HeightModel(dataclasses.replace(rule.model.settings, frame_size=(width, height)))


async def readable_uniforms(cfg: CameraConfig, ctx: DeviceContext, recheck_s: float = 10.0) -> list[UniformSample]:
    """The camera's uniforms, waiting (failed, said once, no restart loop) while its staff file is unreadable.

    Counting on without them would put staff into ``in``/``out`` unnoticed; the file is read again every
    ``recheck_s`` seconds, so deleting it and sampling again starts the camera without a restart.
    """
    if not wants_uniforms(cfg):
        return []
    said = None
    while True:
        try:
            return load_uniforms(ctx.data_dir, cfg.id)
        except ValueError as exc:
            message = f"staff uniforms unreadable, not counting: {exc}; delete it and run `storegw camera " \
                      f"staff-sample {cfg.id}` again"
            if message != said:
                ctx.log.error("device %s: %s", cfg.id, message)
                ctx.stats.count_error("staff_file", message)
                said = message
                ctx.stats.state = DriverState.FAILED
        await asyncio.sleep(recheck_s)


class StaffFileWatch:
    """Re-reads a running camera's staff file when its mtime changes, into its staff rule; off the frame path."""

    def __init__(self, cfg: CameraConfig, ctx: DeviceContext, rules: Sequence[Any],
                 uniforms: Sequence[UniformSample] = (), every_s: float = RELOAD_S) -> None:
        self.cfg, self.ctx, self.every_s = cfg, ctx, every_s
        self.rule = next((r for r in rules if isinstance(r, StaffRule)), None)
        self.active = wants_uniforms(cfg) and self.rule is not None
        self.path = staff_path(ctx.data_dir, cfg.id)
        self.mtime = self._mtime()
        self.next_check = time.monotonic() + every_s
        self.task: asyncio.Task[None] | None = None
        self.said: str | None = None
        if self.active:
            self._warn_if_none(uniforms)

    def _mtime(self) -> float | None:
        """The file's mtime (ns precision as float), None when there is none."""
        try:
            return os.stat(self.path).st_mtime_ns / 1e9
        except OSError:
            return None

    def _warn_if_none(self, uniforms: Sequence[UniformSample]) -> None:
        """Say once that uniform lines have no sample to match (they count staff as customers until one is taken)."""
        if not uniforms and self.said != "none":
            self.ctx.log.warning("device %s: a line has `uniform = true` but no uniform is sampled: staff count as "
                                 "customers; run `storegw camera staff-sample %s`", self.cfg.id, self.cfg.id)
            self.said = "none"

    def poll(self) -> None:
        """From the camera's loop: start a check when one is due (at most every ``every_s``); never waits."""
        if not self.active or (self.task is not None and not self.task.done()):
            return
        now = time.monotonic()
        if now < self.next_check:
            return
        self.next_check = now + self.every_s
        self.task = asyncio.get_running_loop().create_task(self.check())

    async def check(self) -> bool:
        """Stat (and when changed, read) the file in an executor; True when new uniforms were put in the rule."""
        loop = asyncio.get_running_loop()
        mtime = await loop.run_in_executor(None, self._mtime)
        if mtime == self.mtime or self.rule is None:
            return False
        try:
            uniforms = await loop.run_in_executor(None, load_uniforms, self.ctx.data_dir, self.cfg.id)
        except ValueError as exc:
            message = f"staff uniforms unreadable, keeping the previous ones: {exc}"
            if message != self.said:
                self.ctx.log.error("device %s: %s", self.cfg.id, message)
                self.said = message
            return False
        self.mtime = mtime
        self.rule.set_uniforms([np.array(u.signature, np.float32) for u in uniforms])
        self.ctx.log.info("device %s: staff file changed, %d uniform(s) now matched", self.cfg.id, len(uniforms))
        if self.said != "none" or uniforms:
            self.said = None
        self._warn_if_none(uniforms)
        return True

    def close(self) -> None:
        """The camera stops: a check under way is cancelled."""
        if self.task is not None:
            self.task.cancel()
