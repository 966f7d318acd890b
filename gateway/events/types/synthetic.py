"""Payload of the synthetic load device."""

from __future__ import annotations

import msgspec


class SyntheticData(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One synthetic reading; `n` counts per device since it started."""

    n: int
    filler: str = ""
