"""The daemon side of `storegw audit`: a device's counts as they are committed, for the audits listening.

Each item is a span: the line, its [from, to] and the people in and out in it, zero counts included
(they tell the audit how far the device has reported); the audit matches a key press anywhere in a
span, and says how wide the spans were. A device that tells its crossings one by one (``crossed``,
through DeviceContext: a camera per crossing, a serial counter per reading) is followed by those,
not by its footfall intervals: its footfall spans then only say how far it has reported (no counts,
no width), so matching is as fine as the device, whatever its `interval_s`. Crossing times go only
to local listeners (the status socket); what leaves the box is the audit's totals.
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
        self._per_crossing: set[str] = set()
        """Devices that have told a crossing one by one: their footfall spans carry no counts here."""

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

    def crossed(self, device_id: str, line: str, direction: str, t_from: float, t_to: float | None = None,
                people: int = 1) -> None:
        """One crossing (or a reading's ``people``) of a device; ``people=0``: counted up to then, nobody crossed."""
        self._per_crossing.add(device_id)
        if device_id not in self._listeners:
            return
        end = t_from if t_to is None else t_to
        counts = {"in": 0, "out": 0}
        if direction in counts:
            counts[direction] = max(0, people)
        self._tell(device_id, {"line": line, "from": t_from, "to": end, **counts})

    def observe(self, subject: str, event: Event) -> None:
        """Look at one event the daemon commits (cheap when nobody audits ``subject``)."""
        if subject not in self._listeners:
            return
        span = span_of(event)
        if span is None:
            return
        if subject in self._per_crossing:
            # its people came one by one already: the interval only says how far the device has reported
            span = {"line": span["line"], "from": span["to"], "to": span["to"], "in": 0, "out": 0}
        self._tell(subject, span)

    def _tell(self, device_id: str, span: dict[str, Any]) -> None:
        """Hand ``span`` to every listener of ``device_id``; a failing listener is logged and skipped."""
        for listener in list(self._listeners.get(device_id, [])):
            try:
                listener(span)
            except Exception:  # a listener's failure must never reach the device that emitted
                log.exception("audit feed listener failed")
