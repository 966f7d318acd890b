"""Pure pipelines: deterministic state machines from readings to events.

A pipeline never does I/O and never reads a clock: every method that depends on time takes
``now`` (epoch seconds) as an argument, so a recording replays to the same events.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec


@dataclass(slots=True)
class Event:
    """An event a pipeline produced, before the outbox gives it an id and a sequence."""

    type: str
    """Short event name, e.g. ``footfall``; also the last topic level."""
    time: float
    """When it happened, epoch seconds."""
    data: msgspec.Struct
    """The payload's ``data`` member; its class is registered in ``gateway.events.types``."""
