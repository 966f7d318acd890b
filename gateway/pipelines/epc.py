"""EPC decoding with epcpy (GS1 Tag Data Standard), once per EPC.

SGTIN-96/198 give GTIN-14 and serial; SSCC, GRAI and GIAI give their GS1 key; anything else
(non-GS1 headers, broken encodings) is kept as raw hex. epcpy decodes ~35k EPCs/s, so the
result of each EPC is cached; the inventory keeps each tag's GTIN itself, so the cache
only needs to cover the tags that are moving right now.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class EpcInfo:
    """What an EPC says."""

    hex: str
    scheme: str
    """sgtin, sscc, grai, giai, other GS1 scheme names, or "raw"."""
    uri: str | None = None
    gtin: str | None = None
    serial: str | None = None
    key: str | None = None
    """The GS1 key (SSCC, GRAI, GIAI) for non-SGTIN schemes."""


@lru_cache(maxsize=20_000)
def decode_epc(epc_hex: str) -> EpcInfo:
    """Decode one EPC given as hex (any case)."""
    from epcpy import ConvertException, hex_to_tag_encodable

    normalized = epc_hex.upper()
    try:
        tag = hex_to_tag_encodable(normalized)
    except (ConvertException, ValueError, KeyError, IndexError, TypeError):
        return EpcInfo(normalized, "raw")
    scheme = type(tag).__name__.lower()
    uri = getattr(tag, "epc_uri", None)
    if scheme.startswith("sgtin"):
        try:
            return EpcInfo(normalized, "sgtin", uri, gtin=tag.gtin(), serial=str(tag._serial))
        except (ConvertException, ValueError, AttributeError):
            return EpcInfo(normalized, "raw")
    key = None
    try:
        key = tag.gs1_key() if hasattr(tag, "gs1_key") else None
    except (ConvertException, ValueError, TypeError):
        key = None
    return EpcInfo(normalized, scheme, uri, key=key)
