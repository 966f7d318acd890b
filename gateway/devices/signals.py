"""Process-wide hand-over of signals between devices: staff badges heard by a BLE door scanner, read by cameras.

Keyed by the scanner's device id. A camera whose line checks badges (or a serial counter) ``watch``es a
scanner and UUID and gets that scanner's ``BadgeSightings``, and ``unwatch``es them when it stops: watches
are counted per watcher (device id), so a reload that removes a camera stops the recording of a UUID
nobody else watches, and frees its sightings, while a camera watching it twice (two lines) or another
device still watching keeps it. The BLE runner calls ``post_advert`` for every advert, which
records only watched UUIDs with the badge's key (UUID + major + minor, in RAM only, so that one badge
claims one crossing per direction), never the radio address. Thread-safe: the BLE runner posts
on the loop while the camera engine reads in an executor thread.
"""

from __future__ import annotations

import threading

from drivers.ble.adverts import Advert
from drivers.ble.decoders import decode_altbeacon, decode_ibeacon
from gateway.devices.watches import Watches
from gateway.pipelines.people.badges import BadgeSightings


class BadgeBoard:
    """The scanners' badge sightings, for the UUIDs some camera watches."""

    def __init__(self) -> None:
        """Nothing watched."""
        self._lock = threading.Lock()
        self._sightings: dict[str, BadgeSightings] = {}
        # read without the lock for every advert: replaced whole, never changed in place
        self._watched: dict[str, frozenset[str]] = {}
        # (scanner, uuid) -> watcher -> watches not yet undone
        self._watches = Watches()  # (scanner, uuid) -> watcher -> watches held

    def watch(self, scanner_id: str, uuid: str, watcher: str = "") -> BadgeSightings:
        """Start keeping sightings of ``uuid`` at ``scanner_id`` for ``watcher``; the object its rule reads."""
        uuid = uuid.lower()
        with self._lock:
            self._watches.add((scanner_id, uuid), watcher)
            self._watched[scanner_id] = self._watched.get(scanner_id, frozenset()) | {uuid}
            return self._sightings.setdefault(scanner_id, BadgeSightings())

    def unwatch(self, scanner_id: str, uuid: str, watcher: str = "") -> None:
        """Undo one ``watch`` of ``watcher``; the last one of all watchers stops the recording and frees the sightings.

        A watcher that holds no watch there changes nothing: stopping twice cannot drop another's watch.
        """
        uuid = uuid.lower()
        with self._lock:
            if not self._watches.remove((scanner_id, uuid), watcher):
                return  # not this watcher's, or others still watch
            left = self._watched.get(scanner_id, frozenset()) - {uuid}
            if left:
                self._watched[scanner_id] = left
                sightings = self._sightings.get(scanner_id)
                if sightings is not None:
                    sightings.forget(uuid)  # a UUID nobody watches: its badges' sightings go
            else:
                self._watched.pop(scanner_id, None)
                self._sightings.pop(scanner_id, None)

    def watched(self, scanner_id: str) -> frozenset[str]:
        """The UUIDs kept at ``scanner_id`` (lower case)."""
        return self._watched.get(scanner_id, frozenset())

    def post(self, scanner_id: str, uuid: str, rssi: int, now: float, key: str | None = None) -> bool:
        """A beacon of ``uuid`` (badge ``key``) heard by ``scanner_id``; kept (and True) only if watched there."""
        watched = self._watched.get(scanner_id)
        # .get: a stop may have just unwatched this scanner
        sightings = self._sightings.get(scanner_id) if watched and uuid.lower() in watched else None
        if sightings is None:
            return False
        sightings.record(uuid, rssi, now, key)
        return True

    def watching(self, scanner_id: str) -> bool:
        """Does any camera watch this scanner? (cheap: checked for every advert)"""
        return bool(self._watched.get(scanner_id))

    def clear(self) -> None:
        """Forget every watch and sighting (tests; a full reload)."""
        with self._lock:
            self._watched.clear()
            self._watches.clear()
            self._sightings.clear()


BOARD = BadgeBoard()


def badge_identity(advert: Advert) -> tuple[str, str] | None:
    """The UUID and badge key (``uuid/major/minor``) of an advert's iBeacon or AltBeacon, lower case."""
    ibeacon = decode_ibeacon(advert.manufacturer_data)
    if ibeacon is not None:
        uuid = ibeacon.uuid.lower()
        return uuid, f"{uuid}/{ibeacon.major}/{ibeacon.minor}"
    altbeacon = decode_altbeacon(advert.manufacturer_data)
    if altbeacon is not None:
        raw = altbeacon.beacon_id.lower()
        uuid = f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:32]}"
        return uuid, f"{uuid}/{raw[32:]}"  # the id's last 4 bytes: AltBeacon's usual major/minor
    return None


def badge_uuid(advert: Advert) -> str | None:
    """The UUID an advert's iBeacon (or AltBeacon, first 16 bytes of its id) carries, lower case."""
    identity = badge_identity(advert)
    return identity[0] if identity is not None else None


def post_advert(scanner_id: str, advert: Advert, board: BadgeBoard = BOARD) -> bool:
    """The BLE runner's side: hand a staff badge's sighting to the cameras that watch this scanner.

    True when the advert was a watched staff badge: the runner keeps it out of presence, whose beacon
    events would publish the badge's major/minor (one staff member's comings and goings).
    """
    if not board.watching(scanner_id):
        return False  # the common case: no camera checks badges, nothing to decode
    identity = badge_identity(advert)
    return identity is not None and board.post(scanner_id, identity[0], advert.rssi, advert.t, identity[1])
