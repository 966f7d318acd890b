"""One received advertisement, independent of bleak, and its JSON-lines recording form."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Advert:
    """What one advertisement said. The address stays in RAM: pipelines pseudonymise it at once."""

    t: float
    address: str
    rssi: int
    name: str | None = None
    manufacturer_data: dict[int, bytes] = field(default_factory=dict)
    service_data: dict[str, bytes] = field(default_factory=dict)
    service_uuids: list[str] = field(default_factory=list)
    tx_power: int | None = None


def to_record(advert: Advert) -> str:
    """The recording line of `storegw ble scan --record` (raw data: it stays on the box)."""
    record: dict[str, Any] = {"t": round(advert.t, 3), "address": advert.address, "rssi": advert.rssi}
    if advert.name:
        record["name"] = advert.name
    if advert.manufacturer_data:
        record["manufacturer_data"] = {str(k): v.hex() for k, v in advert.manufacturer_data.items()}
    if advert.service_data:
        record["service_data"] = {k: v.hex() for k, v in advert.service_data.items()}
    if advert.service_uuids:
        record["service_uuids"] = list(advert.service_uuids)
    if advert.tx_power is not None:
        record["tx_power"] = advert.tx_power
    return json.dumps(record, separators=(",", ":"))


def from_record(line: str) -> Advert:
    """Parse one recording line; raises ValueError with the reason if it is not one."""
    try:
        raw = json.loads(line)
        return Advert(
            t=float(raw["t"]), address=str(raw["address"]), rssi=int(raw["rssi"]), name=raw.get("name"),
            manufacturer_data={int(k): bytes.fromhex(v) for k, v in (raw.get("manufacturer_data") or {}).items()},
            service_data={str(k).lower(): bytes.fromhex(v) for k, v in (raw.get("service_data") or {}).items()},
            service_uuids=[str(u).lower() for u in raw.get("service_uuids") or []],
            tx_power=None if raw.get("tx_power") is None else int(raw["tx_power"]))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"not an advert record ({type(exc).__name__}: {exc})") from None
