"""Staff crossings, without identifying anyone: a uniform's colour layout, or a staff badge near the door.

*Uniform*: a technician samples what the staff wear (``storegw camera staff-sample``) as a colour
layout (``gateway.vision.appearance``: mean CIELAB per grid cell, numbers only). A track is staff when
the median of its recent signatures is within ``uniform_max_distance`` of any sampled uniform, measured as the
tracker measures it (``appearance_distance``: the mean over cells of the CIELAB distance per cell, in
OpenCV's 8-bit Lab units). Per cell, so the layout counts (a red top over black trousers is not black
over red); the mean over cells, so one odd cell (a bag, a scarf, the floor between the legs) does not
decide alone. The median over recent frames rather than the last one, so a frame of occlusion or
shadow does not either.

*Badge*: a BLE scanner at the door heard a staff badge (a beacon of the staff UUID) at ``rssi_min`` or
stronger within ``window_s`` of the crossing (``BadgeSightings``). Each badge (UUID + major + minor, kept
in RAM only, never published or logged) claims at most one crossing per direction of a line between
absences, and never both ways in one frame: a badge lingering at the door does not make every customer
walking past it staff. Only absence re-arms a direction: not heard at ``rssi_min`` or stronger for
``window_s`` (the person left the door and came back); claiming the other direction does not. So staff
walking in, working in the back out of the scanner's reach and walking out later are staff both ways.
The limit: a staff member stationed at the door all day claims one crossing in and one out until they
leave the door; the customers crossing near them, and their own later crossings, count as customers. A
scanner placed or a ``rssi_min`` set so that only the doorway itself hears the badge keeps the claims
for the crossings that are the badge's. The direction comes from the pipeline or, when it
does not say, from the side of the line the track's feet are on (past the line at a crossing). The claims
themselves are ``badge_claims.py``, shared with serial counters.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gateway.pipelines.people.badge_claims import BadgeCheck, BadgeClaims
from gateway.pipelines.people.badges import BadgeSightings
from gateway.vision.geometry import CountingLine, bottom_centre
from gateway.vision.tracker import Track, appearance_distance

DEFAULT_MAX_DISTANCE = 18.0
"""Measured on the MOT15 clips, unoccluded views (docs in the report of issue 13): one person's 10-frame
median against a sample from other frames of the clip was within 18 in 75 % of windows (within 25 in
94 %), while 17 % of pairs of different people in those dark winter coats were within 18: a distinct
uniform is needed, and ``staff-sample`` says how close the customers it saw come."""


@dataclass(frozen=True)
class LineStaffPolicy:
    """How staff are told apart on one line: by uniform, by badge, or both (either one suffices)."""

    uniform: bool = False
    uniform_max_distance: float = DEFAULT_MAX_DISTANCE
    badge_uuid: str | None = None
    badge_rssi_min: int = -70
    badge_window_s: float = 5.0
    badges: BadgeSightings | None = None
    """The door scanner's sightings (``gateway.devices.signals``); None: no badge check."""
    line: CountingLine | None = None
    """The line's geometry, for a crossing's direction when the pipeline does not give it."""


class StaffRule:
    """Classifies crossings as staff by uniform signature or by badge, per line."""

    name = "staff"

    def __init__(self, policies: dict[str, LineStaffPolicy], uniforms: Sequence[np.ndarray] = (), *,
                 recent_frames: int = 15, min_frames: int = 3,
                 max_tracks: int = 1024) -> None:
        self.policies = policies
        self.recent_frames = recent_frames
        self.min_frames = min_frames
        self.max_tracks = max_tracks
        self.set_uniforms(uniforms)
        self._recent: dict[int, deque[np.ndarray]] = {}
        # which crossing each badge claimed, per line and direction (shared with serial counters)
        self.claims = BadgeClaims()

    def set_uniforms(self, uniforms: Sequence[np.ndarray]) -> None:
        """The sampled uniforms (again: the staff file changed); one attribute swap, safe while frames run."""
        valid = [np.asarray(u, dtype=np.float32).reshape(-1) for u in uniforms]
        # no import of the appearance module (it loads OpenCV): the width comes from the samples
        stacked = np.stack(valid) if valid else np.zeros((0, 0), dtype=np.float32)
        self.uniforms = stacked
        self._wants_uniform = len(stacked) > 0 and any(p.uniform for p in self.policies.values())

    def observe(self, track: Track, now: float) -> None:
        """Keep the track's latest signature (RAM only) when some line checks uniforms."""
        if not self._wants_uniform or track.signature is None:
            return
        recent = self._recent.get(track.id)
        if recent is None:
            if len(self._recent) >= self.max_tracks:
                # a track the pipeline never forgot (should not happen): the oldest goes, memory stays bounded
                self._recent.pop(next(iter(self._recent)))
            recent = self._recent[track.id] = deque(maxlen=self.recent_frames)
        recent.append(track.signature.astype(np.float32, copy=True))

    def uniform_distance(self, track_id: int) -> float | None:
        """Distance of the track's recent median signature to the nearest uniform; None without enough frames."""
        recent = self._recent.get(track_id)
        uniforms = self.uniforms  # one read: the staff file watch may swap it meanwhile
        if recent is None or len(recent) < self.min_frames or len(uniforms) == 0:
            return None
        median = np.median(np.stack(recent), axis=0)
        distances = appearance_distance(median[None, :], uniforms)[0]
        return float(np.nanmin(distances)) if not np.isnan(distances).all() else None

    def classify(self, track: Track, line: str, now: float, direction: str | None = None) -> bool:
        """True when the line's policy says this crossing (``in``/``out``; None: from the geometry) is staff's."""
        policy = self.policies.get(line)
        if policy is None:
            return False
        if policy.uniform:
            distance = self.uniform_distance(track.id)
            if distance is not None and distance <= policy.uniform_max_distance:
                return True
        if policy.badges is not None and policy.badge_uuid:
            return self._badge_claims(track, line, now, direction, policy)
        return False

    def _direction(self, track: Track, policy: LineStaffPolicy) -> str:
        """The crossing's direction from the side the feet are on now (past the line); "?" without geometry."""
        if policy.line is None:
            return "?"
        return "in" if policy.line.signed_distance(bottom_centre(track.box)) > 0 else "out"

    def _badge_claims(self, track: Track, line: str, now: float, direction: str | None,
                      policy: LineStaffPolicy) -> bool:
        """Does an armed badge near the door claim this crossing? At most one crossing per badge and direction."""
        assert policy.badges is not None and policy.badge_uuid
        direction = direction or self._direction(track, policy)
        check = BadgeCheck(policy.badge_uuid, policy.badge_rssi_min, policy.badge_window_s)
        return self.claims.claim(policy.badges, check, line, direction, track.id, now)

    def forget(self, track_id: int) -> None:
        """The track ended: its signatures go."""
        self._recent.pop(track_id, None)

    def tracks_held(self) -> int:
        """Tracks with evidence in RAM (for memory checks)."""
        return len(self._recent)
