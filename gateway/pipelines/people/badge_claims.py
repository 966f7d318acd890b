"""Which crossings a staff badge heard at the door claims: at most one per badge, line and direction between absences.

Shared by the camera's staff rule (``staff.py``, one crossing per track) and the serial counter's
(``pipelines/counter_retail.py``, one person of a reading). A badge (UUID + major + minor, RAM only)
heard at ``rssi_min`` or stronger within ``window_s`` of a crossing claims it, unless it already claimed
one in that direction and has not been absent since: not heard that strongly for more than ``window_s``
(it left the door and came back). Only absence re-arms a direction; claiming the other direction does
not, or a badge lingering at the door while customers go in and out would claim every other one. Nor
does one badge claim both ways at the same moment (one reading, one frame): it is one person.

So a staff member who walks in (``staff_in``), works in the back out of the scanner's reach and later
walks out (``staff_out``) is staff both ways. The limit: one standing at the door (a till by the
entrance) claims one crossing in and one out, then nothing until they leave the door for ``window_s``;
customers crossing next to them meanwhile are customers, and the staff member's own crossings then too.

No numpy, nothing of the vision stack: a serial counter runs on the base install.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from gateway.pipelines.people.badges import BadgeKey, BadgeSightings

_OTHER = {"in": "out", "out": "in"}
"""The directions whose claims are one person's way in and way out ("front" questions have their own)."""


@dataclass(frozen=True)
class BadgeCheck:
    """What counts as a staff badge at one door: its UUID, how strong and how near in time."""

    uuid: str
    rssi_min: int = -70
    window_s: float = 5.0


class BadgeClaims:
    """The claims of badges on crossings, per (line, direction); RAM only, never published."""

    def __init__(self) -> None:
        """No claim yet."""
        # (line, direction) -> badge -> (claim time, the crossing it claimed)
        self._claims: dict[tuple[str, str], dict[BadgeKey, tuple[float, Hashable]]] = {}

    def claim(self, badges: BadgeSightings, check: BadgeCheck, line: str, direction: str, crossing: Hashable,
              now: float, since: float | None = None) -> bool:
        """Does an armed badge claim this crossing (somewhere in [since, now], or at now)? Spends the claim.

        ``crossing`` names the crossing (a track id): asking again about a crossing already claimed says
        yes again without spending another badge. ``direction`` is "in", "out", or anything else for a
        question that has its own claims (a camera's "front": a U-turn or a passer-by).
        """
        claims = self._claims.setdefault((line, direction), {})
        if any(claimed == crossing for _, claimed in claims.values()):
            return True  # asked again about the same crossing (a pipeline may ask more than once)
        # a crossing somewhere in [since, now]: sightings within window_s of any point of it, i.e. of its middle
        # within window_s plus half its span
        start = now if since is None else min(since, now)
        near = badges.near((start + now) / 2, check.window_s + (now - start) / 2, check.rssi_min, check.uuid)
        # the other direction's claims: a badge that claimed one of them at this very moment is that person
        other = self._claims.get((line, _OTHER[direction]), {}) if direction in _OTHER else {}
        armed = [key for key in near
                 if (key not in claims or badges.absent_since(key, claims[key][0], now, check.window_s, check.rssi_min))
                 and not (key in other and other[key][0] == now)]
        if not armed:
            return False
        key = min(armed, key=lambda k: near[k])  # the badge heard nearest the crossing
        claims.pop(key, None)
        claims[key] = (now, crossing)  # last in the dict: the bound below drops the badge claimed longest ago
        if len(claims) > 4 * badges.max_badges:
            claims.pop(next(iter(claims)))  # bounded whatever the scanner hears
        return True
