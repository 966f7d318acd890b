"""FootfallCounter: deltas across resets and wrap-around, aligned intervals, no double counts."""

from __future__ import annotations

from gateway.pipelines.counters import Baseline, FootfallCounter, counter_delta

T0 = 1_763_799_960.0  # 2025-11-22T08:26:00Z, a multiple of 60 s


def totals(events: list) -> tuple[int, int]:  # type: ignore[type-arg]
    """Sum of in and out over footfall events."""
    return sum(e.data.in_ for e in events), sum(e.data.out for e in events)


def test_counter_delta_step_wrap_and_reset() -> None:
    assert counter_delta(10, 15, 16) == (5, "step")
    assert counter_delta(65530, 4, 16) == (10, "wrap")
    assert counter_delta(500, 3, 16) == (3, "reset")
    assert counter_delta(2**32 - 1, 0, 32) == (1, "wrap")


def test_intervals_are_aligned_and_empty_ones_are_reported() -> None:
    counter = FootfallCounter("door", 60, 16)
    events = counter.feed("s", 100, 50, T0 + 10)  # first reading: baseline only
    events += counter.feed("s", 103, 51, T0 + 20)
    events += counter.tick(T0 + 59)
    assert events == []
    events += counter.tick(T0 + 185)  # three intervals have ended, two of them empty
    assert [e.data.interval_start for e in events] == ["2025-11-22T08:26:10.000Z", "2025-11-22T08:27:00.000Z",
                                                       "2025-11-22T08:28:00.000Z"]
    assert [(e.data.in_, e.data.out) for e in events] == [(3, 1), (0, 0), (0, 0)]
    assert events[0].data.interval_s == 50.0 and events[1].data.interval_s == 60.0
    assert events[1].time == T0 + 120


def test_reset_and_wrap_keep_the_totals_right() -> None:
    counter = FootfallCounter("door", 60, 16)
    readings = [(65000, 10), (65530, 12), (5, 14), (9, 15), (2, 1), (4, 3)]  # wrap, then a power loss
    events = []
    for i, (cin, cout) in enumerate(readings):
        events += counter.feed("s", cin, cout, T0 + i)
    events += counter.flush(T0 + 30)
    assert totals(events) == (530 + 11 + 4 + 2 + 2, 2 + 2 + 1 + 1 + 2)
    assert counter.resets == 1 and counter.wraps == 1


def test_flush_then_restart_from_saved_baseline_counts_each_person_once() -> None:
    first = FootfallCounter("door", 60, 16)
    events = first.feed("s", 10, 10, T0 + 1) + first.feed("s", 14, 11, T0 + 20)
    events += first.flush(T0 + 30)  # shutdown mid-interval
    saved = Baseline(first.baseline.sensor_id, first.baseline.count_in, first.baseline.count_out)
    second = FootfallCounter("door", 60, 16, baseline=saved)
    events += second.feed("s", 20, 12, T0 + 40)  # 6 in, 1 out while the gateway was down
    events += second.tick(T0 + 61)
    assert totals(events) == (10, 2)
    spans = [(e.data.interval_start, e.data.interval_s) for e in events]
    assert spans == [("2025-11-22T08:26:01.000Z", 29.0), ("2025-11-22T08:26:40.000Z", 20.0)]


def test_another_sensor_on_the_port_starts_a_new_baseline() -> None:
    counter = FootfallCounter("door", 60, 16, baseline=Baseline("old", 1000, 1000))
    events = counter.feed("new", 5, 5, T0 + 1) + counter.feed("new", 7, 5, T0 + 2) + counter.flush(T0 + 3)
    assert totals(events) == (2, 0)


def test_counter_delta_refuses_counts_outside_the_range_instead_of_going_negative() -> None:
    import pytest

    for previous, current in ((70000, 3), (3, 70000), (-1, 3)):
        with pytest.raises(ValueError, match="outside a 16-bit counter"):
            counter_delta(previous, current, 16)


def test_a_count_above_the_counter_range_is_skipped_never_a_negative_footfall() -> None:
    counter = FootfallCounter("door", 60, 16)
    events = counter.feed("s", 5, 0, T0 + 1)
    events += counter.feed("s", 70000, 0, T0 + 2)  # a 16-bit counter cannot say this: a corrupt report
    events += counter.feed("s", 3, 2**16, T0 + 3)
    events += counter.feed("s", 3, 0, T0 + 4)  # lower than 5 and not a wrap: a power loss, 3 since
    events += counter.feed("s", 7, 1, T0 + 5)
    events += counter.flush(T0 + 30)
    assert all(e.data.in_ >= 0 and e.data.out >= 0 for e in events)
    assert totals(events) == (7, 1)
    assert counter.out_of_range == 2 and counter.resets == 1 and counter.wraps == 0


def test_a_saved_baseline_outside_the_range_is_replaced_not_wrapped_into_a_negative() -> None:
    counter = FootfallCounter("door", 60, 16, baseline=Baseline("s", 70000, 12))  # saved by an unfixed gateway
    events = counter.feed("s", 3, 12, T0 + 1) + counter.feed("s", 4, 13, T0 + 2) + counter.flush(T0 + 30)
    assert totals(events) == (1, 1)
    assert all(e.data.in_ >= 0 and e.data.out >= 0 for e in events)
