"""The inventory pipeline: zones, hysteresis, departures, exits, stock counts and memory bounds."""

from __future__ import annotations

from drivers.sim.llrp.population import sgtin96
from gateway.pipelines.rfid_inventory import InventoryPipeline, InventorySettings

R = "reader-1"
ZONES = {(R, 1): "sales-floor", (R, 2): "fitting-room", (R, 3): "backroom", (R, 4): "exit"}
A = sgtin96("0614141", "812345", 1)
B = sgtin96("0614141", "812345", 2)
C = sgtin96("4012345", "012345", 3)


def pipeline(**kwargs: object) -> InventoryPipeline:
    """A pipeline with the four test zones."""
    return InventoryPipeline(InventorySettings(zones=ZONES, exit_zones=frozenset({"exit"}), **kwargs))  # type: ignore[arg-type]


def actions(events: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    """(action, zone) of item events."""
    return [(e.data.action, e.data.zone) for e in events if e.type == "item"]


def test_arrival_and_cross_reads_do_not_flap() -> None:
    inv = pipeline()
    events = inv.feed(R, A, 1, -50, 0.0)
    assert actions(events) == [("arrived", "sales-floor")]
    assert events[0].data.gtin == "80614141123458" and events[0].data.serial == "1"
    for t in range(1, 60):  # the neighbour antenna hears it too, weaker
        events += inv.feed(R, A, 2, -68 + (t % 3), float(t))
        events += inv.feed(R, A, 1, -51, float(t))
    assert actions(events) == [("arrived", "sales-floor")]


def test_a_real_move_needs_the_new_zone_to_win_clearly() -> None:
    inv = pipeline(hysteresis_db=6.0, hysteresis_decay_s=30.0)
    events = inv.feed(R, A, 1, -50, 0.0)
    events += inv.feed(R, A, 2, -47, 1.0)  # slightly stronger, but inside the hysteresis
    assert actions(events) == [("arrived", "sales-floor")]
    for t in range(2, 40):  # carried to the fitting room: only antenna 2 hears it now
        events += inv.feed(R, A, 2, -45, float(t))
    moved = [e.data for e in events if e.type == "item" and e.data.action == "moved"]
    assert len(moved) == 1 and (moved[0].from_zone, moved[0].zone) == ("sales-floor", "fitting-room")


def test_departed_after_silence_and_left_store_at_the_exit() -> None:
    inv = pipeline(departed_after_s=100.0)
    events = inv.feed(R, A, 1, -50, 0.0) + inv.feed(R, B, 3, -50, 0.0)
    events += inv.feed(R, B, 3, -50, 90.0)
    events += inv.tick(150.0)
    assert ("departed", "sales-floor") in actions(events) and ("departed", "backroom") not in actions(events)
    events = inv.feed(R, B, 4, -40, 151.0)
    assert actions(events)[-1] == ("left_store", "exit")
    assert actions(inv.feed(R, B, 4, -40, 152.0)) == [], "still at the exit: no second event"
    assert all(c.data.total == 0 for c in inv.stock_counts(160.0) if c.data.zone == "backroom")
    assert actions(inv.feed(R, B, 1, -50, 200.0)) == [("arrived", "sales-floor")], "returned to the floor"


def test_stock_counts_per_zone_and_gtin_with_deltas_and_coverage() -> None:
    inv = pipeline(cycle_s=60.0)
    for epc, antenna in ((A, 1), (B, 1), (C, 3)):
        inv.feed(R, epc, antenna, -50, 0.0)
    first = [e.data for e in inv.tick(60.0) if e.type == "stock-count"]
    by_zone = {d.zone: d for d in first}
    assert by_zone["sales-floor"].counts[0].gtin == "80614141123458" and by_zone["sales-floor"].counts[0].count == 2
    assert by_zone["sales-floor"].counts[0].delta == 2 and by_zone["sales-floor"].coverage == 1.0
    assert by_zone["backroom"].total == 1 and by_zone["backroom"].cycle == 1
    inv.feed(R, A, 1, -50, 70.0)  # B not read in this cycle; C moved to the sales floor
    for t in range(71, 80):
        inv.feed(R, C, 1, -40, float(t))
    second = {d.zone: d for d in (e.data for e in inv.tick(120.0) if e.type == "stock-count")}
    floor = {c.gtin: c for c in second["sales-floor"].counts}
    assert floor["04012345123456"].count == 1 and floor["04012345123456"].delta == 1
    assert second["sales-floor"].coverage == round(2 / 3, 4)
    assert second["backroom"].total == 0 and second["backroom"].counts[0].delta == -1


def test_memory_is_bounded_and_eviction_reported() -> None:
    inv = pipeline(max_tags=1000)
    events = []
    for i in range(3000):
        events += inv.feed(R, sgtin96("0614141", "812345", 10_000 + i), 1, -50, float(i))
    assert len(inv.tags) == 1000 and inv.evicted == 2000
    assert sum(1 for e in events if e.type == "item" and e.data.action == "departed") == 2000
