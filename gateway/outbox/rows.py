"""The two shapes an event has in the outbox: waiting in RAM (Draft) and committed (Row)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple


class Row(NamedTuple):
    """One committed event as the publisher needs it."""

    seq: int
    topic: str
    payload: bytes


@dataclass(slots=True)
class Draft:
    """An event waiting in RAM for its transaction."""

    name: str
    subject: str
    time: float
    data: Any
    topic: str
