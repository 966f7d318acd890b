"""Payload of per-interval demographics: suppressed aggregates only, never a person."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

AgeBand = Literal["18-24", "25-34", "35-44", "45-54", "55-64", "65+"]


class DemographicsCell(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """People of one age band and gender in the interval (published only when count >= k)."""

    age_band: AgeBand
    gender: Literal["female", "male"]
    count: Annotated[int, msgspec.Meta(ge=1)]


class DemographicsData(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Estimated age band and gender of the people counted in one interval, k-anonymised.

    Cells under ``k`` people are left out, and ``total`` is the sum of the published cells only,
    so no suppressed cell can be recovered by subtraction. People estimated under 18 are never
    reported, in any cell or total.
    """

    line: str
    interval_start: str
    interval_s: Annotated[float, msgspec.Meta(gt=0)]
    k: Annotated[int, msgspec.Meta(ge=2)]
    cells: list[DemographicsCell]
    total: Annotated[int, msgspec.Meta(ge=0)]
    suppressed_cells: Annotated[int, msgspec.Meta(ge=0)]
