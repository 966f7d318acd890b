"""What a people counter reports."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class CounterReading:
    """Cumulative in/out counts as the device reports them, stamped with the gateway's receive time."""

    sensor_id: str
    count_in: int
    count_out: int
    time: float
