"""Staff badges: a badge of the staff UUID heard at the door near the crossing makes it staff."""

from __future__ import annotations

from drivers.ble.adverts import Advert
from drivers.ble.decoders import APPLE, encode_ibeacon
from gateway.devices.signals import BadgeBoard, post_advert
from gateway.pipelines.people.badges import BadgeSightings
from gateway.pipelines.people.staff import LineStaffPolicy, StaffRule
from gateway.vision.geometry import CountingLine
from gateway.vision.tracker import Track
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
    assert not badge_rule(sightings).classify(track(1, (0, 0, 10, 40)), "door", 1006.0), "too late"
    assert badge_rule(sightings).classify(track(1, (0, 0, 10, 40)), "door", 1003.0)
    assert badge_rule(sightings).classify(track(1, (0, 0, 10, 40)), "door", 998.0), \
        "an advert heard just after the frame was grabbed counts too"
    assert not rule.classify(track(1, (0, 0, 10, 40)), "back-door", 1001.0), "the other line does not check badges"


def test_a_weak_badge_or_another_uuid_is_not_staff() -> None:
    sightings = BadgeSightings()
    rule = badge_rule(sightings)
    sightings.record(STAFF, -80, 1000.0)  # in the back office, behind a wall
    sightings.record(OTHER, -50, 1000.0)
    assert not rule.classify(track(1, (0, 0, 10, 40)), "door", 1000.5)
    sightings.record(STAFF, -70, 1001.0)
    assert rule.classify(track(2, (0, 0, 10, 40)), "door", 1000.5)


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
    assert "AA:BB" not in repr(vars(sightings)), "the radio address is never kept"
    assert list(sightings.near(1002.0, 5.0, -70)) == [f"{STAFF}/1/2"], "the badge key: uuid/major/minor"
    assert board.watch("door-ble", OTHER) is sightings, "one scanner, one sightings list"


DOOR = CountingLine("door", (320, 0), (320, 480), inside=(600, 240))


def door_rule(sightings: BadgeSightings) -> StaffRule:
    """Badges on a vertical door line, store to the right: the direction comes from where the feet are."""
    return StaffRule({"door": LineStaffPolicy(badge_uuid=STAFF, badge_rssi_min=-70, badge_window_s=5.0,
                                              badges=sightings, line=DOOR)})


def inside(track_id: int) -> Track:
    """A track whose feet just crossed into the store."""
    return track(track_id, (330, 100, 390, 300))


def outside(track_id: int) -> Track:
    """A track whose feet just crossed out of the store."""
    return track(track_id, (250, 100, 310, 300))


def linger(sightings: BadgeSightings, start: float, end: float, key: str = "staff-1") -> None:
    """One badge heard once a second at the door from ``start`` to ``end``."""
    t = start
    while t <= end:
        sightings.record(STAFF, -60, t, key)
        t += 1.0


def test_a_badge_lingering_at_the_door_claims_one_crossing_not_every_customer() -> None:
    sightings = BadgeSightings()
    rule = door_rule(sightings)
    linger(sightings, 1000.0, 1060.0)  # a staff member chatting at the door for a minute, never crossing
    claimed = [rule.classify(inside(i), "door", 1005.0 + 10 * i) for i in range(5)]
    assert sum(claimed) <= 1, "five customers walk in: at most one is taken for staff"
    assert rule.classify(inside(0), "door", 1005.0) == claimed[0], "asking again about one crossing is one answer"


def test_staff_walking_in_working_in_the_back_and_walking_out_is_staff_both_ways() -> None:
    sightings = BadgeSightings()
    rule = door_rule(sightings)
    linger(sightings, 1000.0, 1004.0)  # walks in
    assert rule.classify(inside(1), "door", 1002.0)
    assert not rule.classify(inside(2), "door", 1003.0), "a customer right behind them is not staff"
    sightings.record(STAFF, -85, 1300.0, "staff-1")  # in the back office: heard, but far from the door
    linger(sightings, 3600.0, 3604.0)  # walks out an hour later
    assert rule.classify(outside(1), "door", 3602.0)
    assert not rule.classify(outside(3), "door", 3603.0), "out is spent: a customer leaving next to them is not"
    linger(sightings, 3900.0, 3904.0)  # back from lunch
    assert rule.classify(inside(1), "door", 3902.0), "in was re-armed by the absence"


def test_a_badge_lingering_while_customers_alternate_in_and_out_is_one_staff_each_way() -> None:
    """The review's reproduction: a till by the entrance, its badge heard all along, customers in, out, in, ..."""
    sightings = BadgeSightings()
    rule = door_rule(sightings)
    linger(sightings, 1000.0, 1045.0)
    staff = {"in": 0, "out": 0}
    for i in range(1, 21):
        direction = "in" if i % 2 else "out"
        person = inside(i) if i % 2 else outside(i)
        staff[direction] += rule.classify(person, "door", 1000.0 + 2 * i)
    assert staff["in"] <= 1 and staff["out"] <= 1, f"not every other customer: {staff}"


def test_claiming_one_direction_does_not_re_arm_the_other() -> None:
    sightings = BadgeSightings()
    rule = door_rule(sightings)
    linger(sightings, 1000.0, 1020.0)
    assert rule.classify(inside(1), "door", 1002.0) and rule.classify(outside(2), "door", 1004.0)
    assert not rule.classify(inside(3), "door", 1006.0), "in stays spent while the badge stays at the door"


def test_one_badge_is_not_staff_both_ways_in_one_frame() -> None:
    sightings = BadgeSightings()
    rule = door_rule(sightings)
    linger(sightings, 1000.0, 1004.0)
    assert rule.classify(inside(1), "door", 1002.0) + rule.classify(outside(2), "door", 1002.0) == 1


def test_two_badges_claim_two_crossings() -> None:
    sightings = BadgeSightings()
    rule = door_rule(sightings)
    linger(sightings, 1000.0, 1010.0, "staff-1")
    linger(sightings, 1000.0, 1010.0, "staff-2")
    assert [rule.classify(inside(i), "door", 1005.0) for i in range(3)] == [True, True, False]


def test_a_badge_is_re_armed_after_it_left_the_door() -> None:
    sightings = BadgeSightings()
    rule = door_rule(sightings)
    linger(sightings, 1000.0, 1004.0)
    assert rule.classify(inside(1), "door", 1002.0)
    assert not rule.classify(inside(2), "door", 1004.0)
    sightings.record(STAFF, -80, 1006.0)  # heard, but too weak: away from the door
    linger(sightings, 1030.0, 1034.0)  # back 26 s later (went out by the back door)
    assert rule.classify(inside(3), "door", 1032.0)
    assert not rule.classify(inside(4), "door", 1033.0)


def test_a_watch_is_counted_per_watcher_and_the_last_unwatch_frees_the_sightings() -> None:
    board = BadgeBoard()
    sightings = board.watch("door-ble", STAFF, "cam")
    assert board.watch("door-ble", STAFF.upper(), "cam") is sightings, "two lines of one camera: two watches"
    board.watch("door-ble", OTHER, "counter")
    assert post_advert("door-ble", ibeacon(STAFF, -60, 1000.0), board)
    assert post_advert("door-ble", ibeacon(OTHER, -60, 1000.0), board)
    board.unwatch("door-ble", STAFF, "counter")  # holds no watch of STAFF: takes nothing from the camera
    board.unwatch("door-ble", STAFF, "cam")
    assert STAFF in board.watched("door-ble"), "watched twice, unwatched once: still watched"
    assert post_advert("door-ble", ibeacon(STAFF, -60, 1001.0), board)
    board.unwatch("door-ble", STAFF, "cam")
    assert board.watched("door-ble") == {OTHER}
    assert not sightings.near(1001.0, 5.0, -70, STAFF), "its sightings are freed"
    assert sightings.near(1001.0, 5.0, -70, OTHER), "the other UUID's are kept"
    assert not post_advert("door-ble", ibeacon(STAFF, -60, 1002.0), board), "no longer kept out of presence"
    board.unwatch("door-ble", OTHER, "counter")
    assert not board.watching("door-ble") and not post_advert("door-ble", ibeacon(OTHER, -60, 1003.0), board)
    fresh = board.watch("door-ble", STAFF, "cam")
    assert fresh is not sightings and len(fresh) == 0, "a new watch starts afresh"


def test_the_ble_runner_keeps_each_badge_apart() -> None:
    board = BadgeBoard()
    sightings = board.watch("door-ble", STAFF)
    for minor in (1, 2):
        advert = Advert(t=1000.0, address="AA:BB:CC:DD:EE:FF", rssi=-60,
                        manufacturer_data={APPLE: encode_ibeacon(STAFF, 7, minor)})
        post_advert("door-ble", advert, board)
    assert sorted(sightings.near(1000.0, 1.0, -70)) == [f"{STAFF}/7/1", f"{STAFF}/7/2"]


def test_a_shop_front_question_does_not_spend_the_claim_of_a_crossing() -> None:
    """A U-turn or passer-by asked about ("front") has its own claim: the badge still claims the next crossing."""
    sightings = BadgeSightings()
    rule = badge_rule(sightings)
    sightings.record(STAFF, -60, 1000.0)
    assert rule.classify(track(1, (0, 0, 10, 40)), "door", 1000.5, "front")
    assert rule.classify(track(2, (0, 0, 10, 40)), "door", 1001.0, "in"), "the crossing's claim was not spent"
    assert not rule.classify(track(3, (0, 0, 10, 40)), "door", 1001.5, "in"), "one claim per badge and direction"
