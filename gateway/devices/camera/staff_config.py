"""Config of staff and child exclusion on a camera: per line `staff = {...}`, per camera `children = {...}`.

Referenced from ``gateway/devices/camera/config.py``: ``LineConfig.staff: StaffConfig | None = None`` and
``CameraConfig.children: ChildrenConfig = msgspec.field(default_factory=ChildrenConfig)``.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from gateway.devices.badge_config import BadgeOptions

DEFAULT_MAX_DISTANCE = 18.0
"""gateway.pipelines.people.staff.DEFAULT_MAX_DISTANCE (a test keeps them equal): the config loads without
the vision extra (numpy, OpenCV), so it cannot import the rule."""


# the badge keys come from BadgeOptions (shared with serial counters); a camera adds uniforms
class StaffConfig(BadgeOptions, kw_only=True, forbid_unknown_fields=True):
    """How staff crossings of one line are told apart (either way suffices); off until set."""

    uniform: Annotated[bool, msgspec.Meta(description="match the uniforms sampled with `storegw camera "
                                          "staff-sample`")] = False
    uniform_max_distance: Annotated[float, msgspec.Meta(gt=0, le=100, description="colour-layout distance "
                                                        "(mean CIELAB per cell) under which a track wears "
                                                        "a uniform")] = DEFAULT_MAX_DISTANCE

    def __post_init__(self) -> None:
        """A badge check needs its scanner, and a staff block must check something."""
        if self.badge_uuid and not self.badge_scanner:
            raise ValueError("badge_uuid needs badge_scanner (the id of the BLE device at this door)")
        if not self.uniform and not self.badge_uuid:
            raise ValueError("staff needs uniform = true or a badge_uuid")


class ChildrenConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Children counted apart by apparent height (learnt per image region); off until enabled."""

    enabled: bool = False
    child_height_share: Annotated[float, msgspec.Meta(gt=0, lt=1, description="a box under this share of "
                                                      "the adult height where it stands is a child")] = 0.75
    adult_height_px: Annotated[Annotated[float, msgspec.Meta(gt=0, le=100_000)] | None, msgspec.Meta(
        description="fixed adult box height (override of the learnt one)")] = None
    adult_height_rows: Annotated[list[Annotated[float, msgspec.Meta(gt=0, le=100_000)]],
                                 msgspec.Meta(max_length=64, description="fixed adult box height per grid "
                                              "row, top to bottom (override)")] = msgspec.field(default_factory=list)
    grid: Annotated[list[Annotated[int, msgspec.Meta(ge=1, le=64)]],
                    msgspec.Meta(min_length=2, max_length=2, description="columns, rows")] = \
        msgspec.field(default_factory=lambda: [8, 6])
    warmup_tracks: Annotated[int, msgspec.Meta(ge=1, le=10_000, description="tracks a region must see "
                                               "before it decides")] = 20
    history_tracks: Annotated[int, msgspec.Meta(ge=5, le=10_000)] = 50
