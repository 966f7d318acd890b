"""Process-wide hand-over of signals between devices: staff badges heard by a BLE door scanner, read by cameras.

Keyed by the scanner's device id. A camera whose line checks badges ``watch``es a scanner and UUID and
gets that scanner's ``BadgeSightings``; the BLE runner calls ``post_advert`` for every advert, which
records only watched UUIDs with the badge's key (UUID + major + minor, in RAM only, so that one badge
claims one crossing per direction), never the radio address. Thread-safe: the BLE runner posts
on the loop while the camera engine reads in an executor thread.
"""

from __future__ import annotations

import threading

from drivers.ble.adverts import Advert
from drivers.ble.decoders import decode_altbeacon, decode_ibeacon
from gateway.pipelines.people.badges import BadgeSightings


class BadgeBoard:
    """The scanners' badge sightings, for the UUIDs some camera watches."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sightings: dict[str, BadgeSightings] = {}
        self._watched: dict[str, frozenset[str]] = {}

    def watch(self, scanner_id: str, uuid: str) -> BadgeSightings:
        """Start keeping sightings of ``uuid`` at ``scanner_id``; the object the camera's rule reads."""
        with self._lock:
            self._watched[scanner_id] = self._watched.get(scanner_id, frozenset()) | {uuid.lower()}
            return self._sightings.setdefault(scanner_id, BadgeSightings())

    def post(self, scanner_id: str, uuid: str, rssi: int, now: float, key: str | None = None) -> bool:
        """A beacon of ``uuid`` (badge ``key``) heard by ``scanner_id``; kept (and True) only if watched there."""
        watched = self._watched.get(scanner_id)
        if watched and uuid.lower() in watched:
            self._sightings[scanner_id].record(uuid, rssi, now, key)
            return True
        return False

    def watching(self, scanner_id: str) -> bool:
        """Does any camera watch this scanner? (cheap: checked for every advert)"""
        return bool(self._watched.get(scanner_id))

    def clear(self) -> None:
        """Forget every watch and sighting (tests; a full reload)."""
        with self._lock:
            self._watched.clear()
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
