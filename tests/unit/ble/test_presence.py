"""The presence pipeline on scenes with known visits: rotation, passers-by, sparse adverts, beacons."""

from __future__ import annotations

from drivers.ble.adverts import Advert
from drivers.ble.decoders import APPLE, encode_ibeacon
from drivers.sim.ble_scene import MEMBER_APP_UUID, generate
from gateway.pipelines.presence import DAY, PresencePipeline, PresenceSettings, beacon_summary

SALT = b"s" * 32


def run(adverts: list[Advert], settings: PresenceSettings) -> tuple[PresencePipeline, list]:  # type: ignore[type-arg]
    """Feed a recording on its own clock and close at its end."""
    pipeline = PresencePipeline(settings, salt_factory=lambda: SALT)
    events = []
    for advert in adverts:
        events += pipeline.feed(advert, advert.t)
    events += pipeline.close_all(adverts[-1].t)
    return pipeline, events


def test_generated_scene_gives_exactly_the_visits_it_contains() -> None:
    scene = generate(minutes=40, visitors=25, passers_by=40, members=3, seed=3, rotation_s=600)
    settings = PresenceSettings(min_dwell_s=30, absence_s=60, interval_s=600)
    pipeline, events = run(scene.adverts, settings)
    expected = [s for s in scene.truth if s.kind == "visitor" and s.end - s.start >= 30]
    exits = [e.data for e in events if e.type == "visit" and e.data.action == "exit"]
    enters = [e.data for e in events if e.type == "visit" and e.data.action == "enter"]
    assert len(exits) == len(expected) == len(enters) == pipeline.completed_visits
    assert sorted(round(x.dwell_s) for x in exits) == sorted(round(s.end - s.start) for s in expected)
    assert any(s.kind == "visitor" and s.end - s.start < 30 for s in scene.truth) or len(expected) > 25, \
        "address rotation must have split at least one visit"
    kinds = {(b["kind"], b.get("uuid"), b.get("minor")) for b in beacon_summary(pipeline)}
    assert ("ibeacon", MEMBER_APP_UUID, 100) in kinds, "member apps are beacons when member visits are off"
    assert {e.data.kind for e in events if e.type == "beacon"} == {"ibeacon", "eddystone-uid"}


def test_passers_by_and_beacons_are_never_visitors() -> None:
    scene = generate(minutes=20, visitors=0, passers_by=60, members=2, seed=5)
    _, events = run(scene.adverts, PresenceSettings())
    assert not [e for e in events if e.type == "visit"]
    visitors = [e.data for e in events if e.type == "visitors"]
    assert visitors and all(v.unique_visitors == 0 for v in visitors)


def test_sparse_adverts_keep_one_visit_and_silence_ends_it() -> None:
    adverts = [Advert(t=1000.0 + t, address="AA:BB:CC:DD:EE:01", rssi=-65) for t in (0, 25, 50, 95, 140, 180)]
    adverts.append(Advert(t=400.0 + 1000, address="AA:BB:CC:DD:EE:02", rssi=-65))
    _, events = run(adverts, PresenceSettings(absence_s=60, min_dwell_s=30))
    visits = [e.data for e in events if e.type == "visit"]
    assert [v.action for v in visits] == ["enter", "exit"]
    assert visits[1].dwell_s == 180.0


def test_hysteresis_needs_a_real_drop_to_leave() -> None:
    rssi = [-70, -70, -83, -86, -70, -84, -70, -70, -95, -96, -97, -98]
    adverts = [Advert(t=float(10 * i), address="AA:00:00:00:00:01", rssi=r) for i, r in enumerate(rssi)]
    _, events = run(adverts, PresenceSettings(enter_rssi=-80, exit_rssi=-90, min_dwell_s=30, smoothing=0.5))
    visits = [e.data for e in events if e.type == "visit"]
    assert [v.action for v in visits] == ["enter", "exit"], "dips between the thresholds must not split a visit"


def test_member_app_beacons_become_tokens_only_when_enabled() -> None:
    beacon = {APPLE: encode_ibeacon(MEMBER_APP_UUID, 1, 42)}
    adverts = [Advert(t=float(t), address="11:22:33:44:55:66", rssi=-60, manufacturer_data=beacon)
               for t in range(0, 120, 5)]
    enabled = PresenceSettings(member_uuids=frozenset({MEMBER_APP_UUID}), member_key=b"k")
    _, events = run(adverts, enabled)
    members = [e.data for e in events if e.type == "member-visit"]
    assert [m.action for m in members] == ["enter", "exit"]
    assert len(members[0].token) == 32 and members[0].token == members[1].token
    assert "11:22" not in str(members) and MEMBER_APP_UUID not in str(members)
    disabled = PresenceSettings(member_uuids=frozenset({MEMBER_APP_UUID}))
    pipeline, events = run(adverts, disabled)
    assert events == [] or {e.type for e in events} == {"visitors"}, "a known member app is dropped when disabled"
    assert pipeline.stats.member_adverts_dropped == len(adverts) and not pipeline.tracks
    _, events = run(adverts, PresenceSettings())
    assert not [e for e in events if e.type == "member-visit"] and [e for e in events if e.type == "beacon"]


def test_salt_changes_daily_so_pseudonyms_do_not_join_days() -> None:
    salts = iter([b"a" * 32, b"b" * 32])
    pipeline = PresencePipeline(PresenceSettings(min_dwell_s=0), salt_factory=lambda: next(salts))
    day1 = pipeline.feed(Advert(t=DAY - 100, address="AA:BB:CC:DD:EE:FF", rssi=-60), DAY - 100)
    day2 = pipeline.feed(Advert(t=DAY + 100, address="AA:BB:CC:DD:EE:FF", rssi=-60), DAY + 100)
    first = [e.data.visitor for e in day1 if e.type == "visit"]
    second = [e.data for e in day2 if e.type == "visit"]
    assert second[0].action == "exit" and second[0].visitor == first[0]  # yesterday's track closed at the change
    assert second[1].action == "enter" and second[1].visitor != first[0]
    assert pipeline.stats.salt_rotations == 1


def test_memory_is_bounded_by_max_tracks() -> None:
    pipeline = PresencePipeline(PresenceSettings(max_tracks=1000, absence_s=3600), salt_factory=lambda: SALT)
    for i in range(5000):
        pipeline.feed(Advert(t=float(i), address=f"AA:BB:CC:{i >> 16 & 255:02X}:{i >> 8 & 255:02X}:{i & 255:02X}",
                             rssi=-70), float(i))
    assert len(pipeline.tracks) == 1000 and pipeline.stats.evicted == 4000


def test_a_time_far_after_the_last_emits_the_interval_with_data_and_resumes_at_the_new_time() -> None:
    from gateway.events.envelope import rfc3339

    start = 1_763_800_200.0  # a multiple of 300 s
    visit = [Advert(t=start + 10 * i, address="AA:BB:CC:DD:EE:01", rssi=-60) for i in range(10)]
    late = start + 30 * DAY + 17  # one step of a month: 8,640 empty intervals before the fix
    later = [Advert(t=late, address="AA:BB:CC:DD:EE:02", rssi=-60),
             Advert(t=late + 400, address="AA:BB:CC:DD:EE:02", rssi=-60)]
    _, events = run(visit + later, PresenceSettings(min_dwell_s=30, absence_s=60, interval_s=300))
    visitors = [(e.data.interval_start, e.data.unique_visitors, e.data.completed_visits)
                for e in events if e.type == "visitors"]
    assert visitors == [(rfc3339(start), 1, 1), (rfc3339(start + 30 * DAY), 0, 0)]
    assert [e.data.action for e in events if e.type == "visit"] == ["enter", "exit"]


def test_a_visitor_still_present_across_a_gap_is_in_every_interval_of_the_gap() -> None:
    start = 1_763_800_200.0
    adverts = [Advert(t=start + t, address="AA:BB:CC:DD:EE:01", rssi=-60) for t in (10, 60, 120, 250, 1000, 1010)]
    _, events = run(adverts, PresenceSettings(min_dwell_s=30, absence_s=900, interval_s=300))
    assert [e.data.unique_visitors for e in events if e.type == "visitors"] == [1, 1, 1]
