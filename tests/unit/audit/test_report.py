"""The audit's comparison on scripted tallies against known device crossings (pure)."""

from __future__ import annotations

import msgspec
import pytest

from gateway.audit.payload import audit_data
from gateway.audit.report import Crossing, compare
from gateway.audit.tally import Tally, parse_keys_file, split_keys
from gateway.events.types.audit import AuditData

T0 = 1_700_000_000.0


def test_presses_match_device_crossings_within_the_tolerance_one_to_one() -> None:
    manual = [("in", T0 + 10), ("in", T0 + 11), ("in", T0 + 40), ("out", T0 + 70)]
    device = [("in", T0 + 11.5), ("in", T0 + 12.9), ("out", T0 + 74), ("out", T0 + 100)]
    report = compare(manual, device, 2.0, T0, T0 + 120)
    i, o = report.directions["in"], report.directions["out"]
    assert (i.manual, i.device, i.matched, i.missed, i.extra) == (3, 2, 2, 1, 0)
    assert (o.manual, o.device, o.matched, o.missed, o.extra) == (1, 2, 0, 1, 2)  # 4 s off: no match
    assert i.net_accuracy == pytest.approx(1 - 1 / 3) and i.absolute_accuracy == pytest.approx(1 - 1 / 3)
    assert o.net_accuracy == 0.0 and o.absolute_accuracy == -2.0
    total = report.total
    assert (total.manual, total.device, total.matched, total.missed, total.extra) == (4, 4, 2, 2, 2)
    assert total.net_accuracy == 1.0 and total.absolute_accuracy == 0.0  # equal counts, half of them wrong


def test_direction_matters_and_each_crossing_is_used_once() -> None:
    report = compare([("in", T0 + 5)], [("out", T0 + 5), ("in", T0 + 5.5), ("in", T0 + 6)], 2.0, T0, T0 + 60)
    assert report.directions["in"].matched == 1 and report.directions["in"].extra == 1
    assert report.directions["out"].extra == 1 and report.directions["out"].matched == 0


def test_per_minute_buckets_count_raw_crossings() -> None:
    manual = [("in", T0 + 10), ("in", T0 + 70), ("out", T0 + 130)]
    device = [("in", T0 + 10.5), ("in", T0 + 61), ("in", T0 + 65), ("out", T0 + 179.9)]
    report = compare(manual, device, 2.0, T0, T0 + 180, bucket_s=60)
    assert [b.offset_s for b in report.buckets] == [0, 60, 120]
    assert [(b.manual["in"], b.device["in"], b.manual["out"], b.device["out"]) for b in report.buckets] == [
        (1, 1, 0, 0), (1, 2, 0, 0), (0, 0, 1, 1)]
    assert report.bucket_mae == pytest.approx(1 / 3)


def test_zero_manual_counts_give_no_accuracy_and_count_every_device_crossing_as_extra() -> None:
    report = compare([], [("in", T0 + 3)], 2.0, T0, T0 + 60)
    assert report.directions["in"].extra == 1 and report.directions["in"].net_accuracy is None
    assert report.directions["out"].absolute_accuracy is None
    data = audit_data(report, "door-1")
    assert data.in_.net_accuracy is None and data.total.device == 1


def test_window_edges_a_match_across_the_edge_counts_and_outside_crossings_do_not() -> None:
    manual = [("in", T0 + 59.5)]
    device = [("in", T0 + 60.8), ("in", T0 - 5), ("out", T0 + 61.5)]
    report = compare(manual, device, 2.0, T0, T0 + 60)
    i = report.directions["in"]
    assert (i.manual, i.device, i.matched, i.extra) == (1, 1, 1, 0)
    assert report.directions["out"].device == 0


def test_device_spans_match_anywhere_inside_plus_the_tolerance() -> None:
    device = [Crossing("in", T0 + 10, T0 + 20), Crossing("in", T0 + 10, T0 + 20)]
    report = compare([("in", T0 + 12), ("in", T0 + 21.5), ("in", T0 + 25)], device, 2.0, T0, T0 + 60)
    i = report.directions["in"]
    assert (i.matched, i.missed, i.extra) == (2, 1, 0)
    assert report.resolution_s == 10


def test_payload_holds_numbers_only_and_validates() -> None:
    report = compare([("in", T0 + 1), ("out", T0 + 2)], [("in", T0 + 1.2)], 2.0, T0, T0 + 90)
    raw = msgspec.json.encode(audit_data(report, "door-1", tally="file"))
    data = msgspec.json.decode(raw, type=AuditData)
    assert data.in_.matched == 1 and data.out.missed == 1 and data.window_s == 90 and data.tally == "file"
    assert str(T0 + 1) not in raw.decode() and "presses" not in raw.decode()  # no individual times leave


def test_tally_keys_undo_and_scripted_file() -> None:
    assert split_keys("io\x1b[A\x1b[Bu+q") == ["in", "out", "in", "out", "undo", "in", "quit"]
    tally = Tally()
    for action, t in (("in", 1.0), ("out", 2.0), ("undo", 3.0), ("undo", 4.0), ("undo", 5.0), ("out", 6.0)):
        tally.apply(action, t)
    assert tally.presses == [("out", 6.0)]
    assert parse_keys_file("# paper\n3 in\n1.5 out\n2 undo\n", 60) == [(1.5, "out"), (2.0, "undo"), (3.0, "in")]
    for bad in ("x in", "3 sideways", "61 in", "3"):
        with pytest.raises(ValueError):
            parse_keys_file(bad, 60)
