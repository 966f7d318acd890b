"""Where device integrations hand their events: the one typed call between a device and the outbox."""

from __future__ import annotations

from typing import Protocol

from gateway.pipelines import Event


class EventSink(Protocol):
    """Takes one event of a subject (a device id, or the gateway's own id) for the outbox; never blocks."""

    def commit_event(self, subject: str, event: Event) -> None:
        """Queue ``event`` of ``subject`` for its transaction; it gets its sequence number there."""
