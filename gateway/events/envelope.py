"""The CloudEvents 1.0 structured-JSON envelope every published event travels in."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from gateway.events.types import type_uri

SEQUENCE_DIGITS = 20  # zero-padded so the string sorts like the number (uint64 fits)


class Envelope(msgspec.Struct, kw_only=True):
    """CloudEvents attributes plus our extensions `sequence` and `gwboot`."""

    specversion: str
    id: str
    source: str
    type: str
    subject: str
    time: str
    datacontenttype: str
    sequence: str
    gwboot: int
    data: Any


_encoder = msgspec.json.Encoder()


def rfc3339(epoch: float) -> str:
    """Epoch seconds as an RFC 3339 UTC timestamp with milliseconds."""
    moment = dt.datetime.fromtimestamp(epoch, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def source_of(store_id: str, gateway_id: str) -> str:
    """CloudEvents `source` of a gateway."""
    return f"/stores/{store_id}/gateways/{gateway_id}"


def format_sequence(seq: int) -> str:
    """The `sequence` attribute of an outbox sequence number."""
    return str(seq).zfill(SEQUENCE_DIGITS)


def encode_event(*, event_id: str, source: str, name: str, subject: str, time: float, seq: int,
                 gwboot: int, data: Any) -> bytes:
    """Serialise one event to its wire form."""
    return _encoder.encode(Envelope(
        specversion="1.0", id=event_id, source=source, type=type_uri(name), subject=subject,
        time=rfc3339(time), datacontenttype="application/json", sequence=format_sequence(seq),
        gwboot=gwboot, data=data))
