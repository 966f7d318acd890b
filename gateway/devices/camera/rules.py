"""A camera config's staff and child settings -> the footfall pipeline's crossing rules (staff first, then child).

Uniforms come from ``{data_dir}/staff/{camera_id}.json`` (``storegw camera staff-sample``), badges from the
door scanner's sightings on the process-wide board (``gateway.devices.signals``). A staff policy also
covers the line's outside line (``<line>:outside``), so staff walking past the shop front are not passers-by.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from drivers.base import DriverState
from gateway.devices.camera.config import CameraConfig
from gateway.devices.camera.staff_config import StaffConfig
from gateway.devices.camera.staff_store import UniformSample, load_uniforms
from gateway.devices.context import DeviceContext
from gateway.devices.signals import BOARD, BadgeBoard
from gateway.pipelines.people.children import ChildRule, ChildSettings
from gateway.pipelines.people.heights import HeightModel, HeightSettings
from gateway.pipelines.people.staff import LineStaffPolicy, StaffRule


def wants_uniforms(cfg: CameraConfig) -> bool:
    """Does some line of this camera check uniforms (so the staff file must be read)?"""
    return any(ln.staff is not None and ln.staff.uniform for ln in cfg.lines)


def _policy(staff: StaffConfig, board: BadgeBoard) -> LineStaffPolicy:
    """One line's staff policy; watching its scanner for its badge UUID when it checks badges."""
    badges = board.watch(staff.badge_scanner, staff.badge_uuid) if staff.badge_uuid else None
    return LineStaffPolicy(uniform=staff.uniform, uniform_max_distance=staff.uniform_max_distance,
                           badge_uuid=staff.badge_uuid, badge_rssi_min=staff.badge_rssi_min,
                           badge_window_s=staff.badge_window_s, badges=badges)


def crossing_rules(cfg: CameraConfig, uniforms: Sequence[UniformSample] = (), board: BadgeBoard = BOARD,
                   frame_size: tuple[int, int] | None = None) -> list[Any]:
    """The camera's crossing rules in order: staff, then child; [] when neither is configured."""
    policies: dict[str, LineStaffPolicy] = {}
    for line in cfg.lines:
        if line.staff is None:
            continue
        policies[line.name] = policy = _policy(line.staff, board)
        if line.outside is not None:
            # the pipeline asks about an outside-line crossing by that line's name
            policies[f"{line.name}:outside"] = policy
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
