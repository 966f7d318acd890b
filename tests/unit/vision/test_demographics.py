"""Demographics: k-anonymity suppression, no minors, totals that never reveal a suppressed cell."""

from __future__ import annotations

import pytest

from gateway.pipelines.demographics import DemographicsAggregator, age_band


def test_age_bands_and_minors() -> None:
    assert [age_band(a) for a in (17.9, 18, 24.9, 25, 44, 64.9, 65, 90)] == \
        [None, "18-24", "18-24", "25-34", "35-44", "55-64", "65+", "65+"]


def test_small_cells_are_suppressed_and_the_total_reveals_nothing() -> None:
    agg = DemographicsAggregator("door", interval_s=60, k=10)
    track = 0
    for age, gender, n in ((30, "female", 12), (30, "male", 4), (50, "female", 10), (15, "male", 7)):
        for _ in range(n):
            track += 1
            agg.observe(track, age, gender, 0.9, 10.0)
    data = agg.tick(60.0)[0].data
    cells = {(c.age_band, c.gender): c.count for c in data.cells}
    assert cells == {("25-34", "female"): 12, ("45-54", "female"): 10}
    assert data.total == 22 == sum(cells.values()), "the total is only what is published"
    assert data.suppressed_cells == 1, "the minors are not even a suppressed cell"
    assert "15" not in str(data) and "under" not in str(data).lower()


def test_one_estimate_per_track_and_low_confidence_ignored() -> None:
    agg = DemographicsAggregator("door", interval_s=60, k=2)
    for _ in range(5):
        agg.observe(1, 30, "male", 0.9, 1.0)
    agg.observe(2, 30, "male", 0.3, 1.0)
    assert not agg.needs_estimate(1) and agg.needs_estimate(2)
    agg.observe(3, 31, "male", 0.8, 2.0)
    data = agg.tick(61.0)[0].data
    assert [(c.age_band, c.count) for c in data.cells] == [("25-34", 2)]


def test_k_below_two_is_refused() -> None:
    with pytest.raises(ValueError):
        DemographicsAggregator("door", k=1)
