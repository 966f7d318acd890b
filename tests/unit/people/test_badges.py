"""Staff badges: a badge of the staff UUID heard at the door near the crossing makes it staff."""

from __future__ import annotations

from drivers.ble.adverts import Advert
from drivers.ble.decoders import APPLE, encode_ibeacon
from gateway.devices.signals import BadgeBoard, post_advert
from gateway.pipelines.people.badges import BadgeSightings
from gateway.pipelines.people.staff import LineStaffPolicy, StaffRule
from tests.unit.people.conftest import track

STAFF = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"
OTHER = "11111111-2222-3333-4444-555555555555"


def badge_rule(sightings: BadgeSightings) -> StaffRule:
    """Badges checked on "door": -70 dBm or stronger within 5 s."""
    return StaffRule({"door": LineStaffPolicy(badge_uuid=STAFF, badge_rssi_min=-70, badge_window_s=5.0,
                                              badges=sightings)})


def test_a_badge_near_the_crossing_and_strong_enough_is_staff() -> None:
    sightings = BadgeSightings()
    rule = badge_rule(sightings)
    sightings.record(STAFF.upper(), -62, 1000.0)
    person = track(1, (0, 0, 10, 40))
    assert rule.classify(person, "door", 1003.0)
    assert rule.classify(person, "door", 998.0), "an advert heard just after the frame was grabbed counts too"
    assert not rule.classify(person, "door", 1006.0), "too late"
    assert not rule.classify(person, "back-door", 1001.0), "the other line does not check badges"


def test_a_weak_badge_or_another_uuid_is_not_staff() -> None:
    sightings = BadgeSightings()
    rule = badge_rule(sightings)
    sightings.record(STAFF, -80, 1000.0)  # in the back office, behind a wall
    sightings.record(OTHER, -50, 1000.0)
    assert not rule.classify(track(1, (0, 0, 10, 40)), "door", 1000.5)
    sightings.record(STAFF, -70, 1001.0)
    assert rule.classify(track(1, (0, 0, 10, 40)), "door", 1000.5)


def test_sightings_are_bounded() -> None:
    sightings = BadgeSightings(max_sightings=100)
    for i in range(10_000):
        sightings.record(STAFF, -60, float(i))
    assert len(sightings) == 100
    assert sightings.seen(9_999.0, 1.0, -70) and not sightings.seen(100.0, 1.0, -70)


def ibeacon(uuid: str, rssi: int, t: float) -> Advert:
    """An iBeacon advert as the BLE driver makes it."""
    return Advert(t=t, address="AA:BB:CC:DD:EE:FF", rssi=rssi, manufacturer_data={APPLE: encode_ibeacon(uuid, 1, 2)})


def test_the_ble_runner_hands_watched_badges_to_the_camera_without_the_address() -> None:
    board = BadgeBoard()
    post_advert("door-ble", ibeacon(STAFF, -60, 1000.0), board)  # nobody watches yet: dropped
    sightings = board.watch("door-ble", STAFF)
    assert len(sightings) == 0
    post_advert("door-ble", ibeacon(STAFF, -60, 1001.0), board)
    post_advert("door-ble", ibeacon(OTHER, -40, 1001.0), board)   # not a staff badge
    post_advert("till-ble", ibeacon(STAFF, -40, 1001.0), board)   # another scanner
    post_advert("door-ble", Advert(t=1001.0, address="x", rssi=-30), board)  # no beacon at all
    assert len(sightings) == 1
    assert sightings.seen(1002.0, 5.0, -70, STAFF)
    assert "AA:BB" not in repr(sightings._sightings), "the radio address is never kept"
    assert board.watch("door-ble", OTHER) is sightings, "one scanner, one sightings list"
