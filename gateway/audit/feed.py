"""The daemon side of `storegw audit`: a device's counts as they are committed, for the audits listening.

Devices report people per interval (the `footfall` event), so each item is a span: the line, its
[from, to] and the people in and out in it, zero counts included (they tell the audit how far the
device has reported). A serial counter's span is its footfall interval (`interval_s`, down to 1 s);
the audit matches a key press anywhere in a span, and says how wide the spans were.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from gateway.events.types.footfall import FootfallData
from gateway.pipelines import Event

log = logging.getLogger("storegw.audit")

Listener = Callable[[dict[str, Any]], None]


def epoch_of(stamp: str) -> float:
    """Epoch seconds of an RFC 3339 timestamp."""
    return dt.datetime.fromisoformat(stamp).timestamp()


def span_of(event: Event) -> dict[str, Any] | None:
    """The span a footfall event reports, or None for any other event."""
    if event.type != "footfall" or not isinstance(event.data, FootfallData):
        return None
    start = epoch_of(event.data.interval_start)
    return {"line": event.data.line, "from": start, "to": start + event.data.interval_s,
            "in": event.data.in_, "out": event.data.out}


class CrossingFeed:
    """Hands each committed footfall span of a device to the listeners of that device."""

    def __init__(self) -> None:
        """A feed nobody listens to yet."""
        self._listeners: dict[str, list[Listener]] = defaultdict(list)

    def subscribe(self, device_id: str, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every span of ``device_id``; returns the unsubscribe."""
        self._listeners[device_id].append(listener)

        def leave() -> None:
            """Stop listening."""
            listeners = self._listeners.get(device_id, [])
            if listener in listeners:
                listeners.remove(listener)
            if not listeners:
                self._listeners.pop(device_id, None)

        return leave

    def observe(self, subject: str, event: Event) -> None:
        """Look at one event the daemon commits (cheap when nobody audits ``subject``)."""
        listeners = self._listeners.get(subject)
        if not listeners:
            return
        span = span_of(event)
        if span is None:
            return
        for listener in list(listeners):
            try:
                listener(span)
            except Exception:  # a listener's failure must never reach the device that emitted
                log.exception("audit feed listener failed")
