"""BLE presence: adverts -> visits, beacons, member visits and per-interval visitor counts.

Pure: time comes in as ``now``; the salt comes from an injected factory. The address of an
advert is turned into a pseudonym the moment it arrives and is not kept: tracks are keyed by
HMAC-SHA256(salt, address), and the salt (random, in RAM only) changes every UTC day, so the
same phone cannot be followed from one day to the next. At the change every open track closes.

A track's RSSI is smoothed (exponential mean); it becomes *present* at ``enter_rssi`` and stops
being present below ``exit_rssi`` (hysteresis) or after ``absence_s`` without a sighting
(sparse adverts are tolerated up to that). A visit is confirmed once a non-beacon device has
been present for ``min_dwell_s``; passers-by never produce an event.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from drivers.ble.adverts import Advert
from drivers.ble.decoders import AltBeacon, EddystoneUID, EddystoneURL, IBeacon, decode_beacon
from gateway.events.envelope import rfc3339
from gateway.events.types.presence import BeaconData, MemberVisitData, VisitData, VisitorsData
from gateway.pipelines import Event

DAY = 86_400.0
DWELL_BUCKETS = ((60, "0-1m"), (300, "1-5m"), (900, "5-15m"), (1800, "15-30m"), (3600, "30-60m"),
                 (math.inf, "60m+"))


@dataclass(frozen=True)
class PresenceSettings:
    """Thresholds and switches of the presence pipeline."""

    enter_rssi: int = -80
    exit_rssi: int = -90
    absence_s: float = 60.0
    min_dwell_s: float = 30.0
    interval_s: float = 300.0
    smoothing: float = 0.3
    max_tracks: int = 50_000
    member_uuids: frozenset[str] = frozenset()
    member_key: bytes | None = None
    """Set (from a key file) and non-empty member_uuids enable member-visit events. Without the key,
    adverts of member_uuids are dropped: a member app's major/minor names the member, so it must
    not go out as a wall beacon either."""


@dataclass(slots=True)
class Track:
    """One pseudonymous device (or beacon) currently around."""

    first_seen: float
    last_seen: float
    rssi: float
    present: bool = False
    confirmed: bool = False
    beacon: IBeacon | AltBeacon | EddystoneUID | EddystoneURL | None = None
    member_token: str | None = None


@dataclass
class PresenceStats:
    """Counters for health and the technician."""

    adverts: int = 0
    evicted: int = 0
    salt_rotations: int = 0
    member_adverts_dropped: int = 0


def _bucket(dwell: float) -> str:
    """The histogram bucket of a dwell time."""
    return next(name for limit, name in DWELL_BUCKETS if dwell < limit)


class PresencePipeline:
    """Turns a stream of adverts into presence events."""

    def __init__(self, settings: PresenceSettings, salt_factory: Callable[[], bytes] = lambda: secrets.token_bytes(32)):
        self.settings = settings
        self._salt_factory = salt_factory
        self._salt = b""
        self._salt_day = -1
        self.tracks: OrderedDict[str, Track] = OrderedDict()
        self.stats = PresenceStats()
        self._interval_start: float | None = None
        self._interval_visitors: set[str] = set()
        self._interval_dwells: list[float] = []
        self.completed_visits = 0
        self.beacons_seen: dict[tuple[str, ...], IBeacon | AltBeacon | EddystoneUID | EddystoneURL] = {}

    # ---- identities --------------------------------------------------------------------
    def _pseudonym(self, address: str) -> str:
        """HMAC-SHA256 of the address under today's salt, 16 hex digits."""
        return hmac.new(self._salt, address.upper().encode(), hashlib.sha256).hexdigest()[:16]

    def _member_token(self, beacon: IBeacon) -> str | None:
        """Opaque token of a member-app beacon, when member visits are enabled."""
        s = self.settings
        if not s.member_key or beacon.uuid.lower() not in s.member_uuids:
            return None
        message = f"{beacon.uuid.lower()}:{beacon.major}:{beacon.minor}".encode()
        return hmac.new(s.member_key, message, hashlib.sha256).hexdigest()[:32]

    def _rotate_salt(self, now: float) -> list[Event]:
        """New salt at each UTC day; every open track ends at the change."""
        day = int(now // DAY)
        if day == self._salt_day:
            return []
        events: list[Event] = []
        if self._salt_day >= 0:
            for key in list(self.tracks):
                events += self._close(key, self.tracks[key].last_seen)
            self.stats.salt_rotations += 1
        self._salt = self._salt_factory()
        self._salt_day = day
        return events

    # ---- input -------------------------------------------------------------------------
    def feed(self, advert: Advert, now: float) -> list[Event]:
        """One advert received at ``now``."""
        self.stats.adverts += 1
        events = self._rotate_salt(now) + self.tick(now)
        beacon = decode_beacon(advert.manufacturer_data, advert.service_data)
        if beacon is not None and beacon.kind == "eddystone-tlm":
            return events  # telemetry frames carry no identity; their beacon's UID frame does
        if (isinstance(beacon, IBeacon) and not self.settings.member_key
                and beacon.uuid.lower() in self.settings.member_uuids):
            self.stats.member_adverts_dropped += 1
            return events  # member visits disabled: a member app is neither a wall beacon nor a visitor
        key = self._pseudonym(advert.address)
        track = self.tracks.get(key)
        if track is None:
            track = Track(first_seen=now, last_seen=now, rssi=float(advert.rssi))
            track.beacon = beacon  # type: ignore[assignment]
            if isinstance(beacon, IBeacon):
                track.member_token = self._member_token(beacon)
            self.tracks[key] = track
            if len(self.tracks) > self.settings.max_tracks:
                oldest = next(iter(self.tracks))
                events += self._close(oldest, self.tracks[oldest].last_seen)
                self.stats.evicted += 1
        else:
            self.tracks.move_to_end(key)
            alpha = self.settings.smoothing
            track.rssi = alpha * advert.rssi + (1 - alpha) * track.rssi
            track.last_seen = now
        events += self._update(key, track, now)
        return events

    def _update(self, key: str, track: Track, now: float) -> list[Event]:
        """Apply the thresholds to one track after a sighting."""
        s = self.settings
        events: list[Event] = []
        if not track.present and track.rssi >= s.enter_rssi:
            track.present = True
            track.first_seen = now  # dwell counts from entering range, not from a faint first sighting
        elif track.present and track.rssi < s.exit_rssi:
            return self._close(key, track.last_seen)
        if track.present and not track.confirmed and now - track.first_seen >= s.min_dwell_s:
            track.confirmed = True
            events += self._opened(key, track)
        return events

    def _opened(self, key: str, track: Track) -> list[Event]:
        """Events when a track becomes a confirmed presence."""
        when = track.first_seen
        if track.member_token:
            return [Event("member-visit", when, MemberVisitData(action="enter", token=track.member_token,
                                                                entered=rfc3339(when)))]
        if track.beacon is not None:
            self.beacons_seen[_beacon_key(track.beacon)] = track.beacon
            return [Event("beacon", when, _beacon_data(track.beacon, "seen", int(track.rssi)))]
        self._interval_visitors.add(key)
        return [Event("visit", when, VisitData(action="enter", visitor=key, entered=rfc3339(when),
                                               rssi=int(track.rssi)))]

    def _close(self, key: str, at: float) -> list[Event]:
        """End a track (gone, too weak, evicted or salt change) and report a confirmed one."""
        track = self.tracks.pop(key)
        if not track.confirmed:
            return []
        dwell = round(max(0.0, at - track.first_seen), 3)
        if track.member_token:
            return [Event("member-visit", at, MemberVisitData(action="exit", token=track.member_token,
                                                              entered=rfc3339(track.first_seen), dwell_s=dwell))]
        if track.beacon is not None:
            return [Event("beacon", at, _beacon_data(track.beacon, "lost", int(track.rssi)))]
        self.completed_visits += 1
        self._interval_dwells.append(dwell)
        self._interval_visitors.add(key)
        return [Event("visit", at, VisitData(action="exit", visitor=key, entered=rfc3339(track.first_seen),
                                             dwell_s=dwell, rssi=int(track.rssi)))]

    # ---- time --------------------------------------------------------------------------
    def tick(self, now: float) -> list[Event]:
        """Close tracks unseen for absence_s and emit ended intervals."""
        events: list[Event] = []
        limit = now - self.settings.absence_s
        # tracks are kept in last-seen order, so the stale ones are at the front
        while self.tracks:
            key, track = next(iter(self.tracks.items()))
            if track.last_seen >= limit:
                break
            events += self._close(key, track.last_seen)
        events += self._intervals(now)
        return events

    def _intervals(self, now: float) -> list[Event]:
        """`visitors` events for the intervals that have ended.

        The running interval is always reported when it ends, even with nobody in it (a zero is
        information). When one step of the clock passes over further whole intervals (a gap in a
        recording, a clock jump), those are reported only while they hold data (a visitor still
        present); the first one without any ends the catch-up, and counting resumes at the
        interval that contains ``now``. So the work and the events of one call are bounded by the
        data, never by the length of the gap (a timestamp in 2100 is one event, not 250,000).
        """
        step = self.settings.interval_s
        if self._interval_start is None:
            self._interval_start = math.floor(now / step) * step
            return []
        events = []
        first = True
        while now >= self._interval_start + step:
            present = {k for k, t in self.tracks.items() if t.confirmed and t.beacon is None and not t.member_token}
            if not first and not (present or self._interval_visitors or self._interval_dwells):
                self._interval_start = math.floor(now / step) * step  # skip the empty stretch at once
                break
            first = False
            histogram = {name: 0 for _, name in DWELL_BUCKETS}
            for dwell in self._interval_dwells:
                histogram[_bucket(dwell)] += 1
            events.append(Event("visitors", self._interval_start + step, VisitorsData(
                interval_start=rfc3339(self._interval_start), interval_s=step,
                unique_visitors=len(self._interval_visitors | present),
                completed_visits=len(self._interval_dwells), dwell_histogram=histogram)))
            self._interval_start += step
            self._interval_visitors = set()
            self._interval_dwells = []
        return events

    def close_all(self, now: float) -> list[Event]:
        """End every open track at its last sighting (end of a replay or shutdown)."""
        events: list[Event] = []
        for key in list(self.tracks):
            events += self._close(key, self.tracks[key].last_seen)
        return events + self._intervals(now)


def _beacon_key(beacon: IBeacon | AltBeacon | EddystoneUID | EddystoneURL) -> tuple[str, ...]:
    """Identity of a beacon for the replay summary."""
    if isinstance(beacon, IBeacon):
        return (beacon.kind, beacon.uuid, str(beacon.major), str(beacon.minor))
    if isinstance(beacon, EddystoneUID):
        return (beacon.kind, beacon.namespace, beacon.instance)
    if isinstance(beacon, AltBeacon):
        return (beacon.kind, beacon.beacon_id)
    return (beacon.kind, beacon.url)


def _beacon_data(beacon: IBeacon | AltBeacon | EddystoneUID | EddystoneURL, action: str, rssi: int) -> BeaconData:
    """The `beacon` payload of a beacon."""
    if isinstance(beacon, IBeacon):
        return BeaconData(action=action, kind="ibeacon", uuid=beacon.uuid, major=beacon.major, minor=beacon.minor,
                          rssi=rssi)  # type: ignore[arg-type]
    if isinstance(beacon, EddystoneUID):
        return BeaconData(action=action, kind="eddystone-uid", namespace=beacon.namespace,  # type: ignore[arg-type]
                          instance=beacon.instance, rssi=rssi)
    if isinstance(beacon, AltBeacon):
        return BeaconData(action=action, kind="altbeacon", beacon_id=beacon.beacon_id, rssi=rssi)  # type: ignore[arg-type]
    return BeaconData(action=action, kind="eddystone-url", url=beacon.url, rssi=rssi)  # type: ignore[arg-type]


def beacon_summary(pipeline: PresencePipeline) -> list[dict[str, object]]:
    """Recognised beacons seen, as `ble replay --json` lists them."""
    out: list[dict[str, object]] = []
    for beacon in pipeline.beacons_seen.values():
        if isinstance(beacon, IBeacon):
            out.append({"kind": "ibeacon", "uuid": beacon.uuid, "major": beacon.major, "minor": beacon.minor})
        elif isinstance(beacon, EddystoneUID):
            out.append({"kind": "eddystone-uid", "namespace": beacon.namespace, "instance": beacon.instance})
        elif isinstance(beacon, AltBeacon):
            out.append({"kind": "altbeacon", "beacon_id": beacon.beacon_id})
        else:
            out.append({"kind": "eddystone-url", "url": beacon.url})
    return out

