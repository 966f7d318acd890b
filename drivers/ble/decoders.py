"""Beacon frames: iBeacon, AltBeacon and Eddystone UID, URL and TLM.

Layouts: iBeacon is Apple's manufacturer data (company 0x004C) ``02 15`` + UUID(16) + major(BE16)
+ minor(BE16) + measured power (int8 at 1 m). AltBeacon is any company's manufacturer data
``BE AC`` + beacon id(20) + reference RSSI(int8) + reserved(1). Eddystone is service data of
0xFEAA: frame type 0x00 UID (tx power at 0 m, namespace 10, instance 6, 2 RFU bytes old beacons
omit), 0x10 URL (tx power, scheme, encoded URL), 0x20 TLM (version, battery mV, temperature 8.8,
advert count, seconds ×10 since boot).
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass

APPLE = 0x004C
EDDYSTONE_UUID = "0000feaa-0000-1000-8000-00805f9b34fb"
URL_SCHEMES = ("http://www.", "https://www.", "http://", "https://")
URL_EXPANSIONS = (".com/", ".org/", ".edu/", ".net/", ".info/", ".biz/", ".gov/",
                  ".com", ".org", ".edu", ".net", ".info", ".biz", ".gov")


@dataclass(frozen=True, slots=True)
class IBeacon:
    """An iBeacon identity."""

    uuid: str
    major: int
    minor: int
    tx_power: int
    kind: str = "ibeacon"


@dataclass(frozen=True, slots=True)
class AltBeacon:
    """An AltBeacon identity."""

    company: int
    beacon_id: str
    ref_rssi: int
    kind: str = "altbeacon"


@dataclass(frozen=True, slots=True)
class EddystoneUID:
    """An Eddystone-UID identity."""

    namespace: str
    instance: str
    tx_power: int
    kind: str = "eddystone-uid"


@dataclass(frozen=True, slots=True)
class EddystoneURL:
    """An Eddystone-URL frame."""

    url: str
    tx_power: int
    kind: str = "eddystone-url"


@dataclass(frozen=True, slots=True)
class EddystoneTLM:
    """An Eddystone-TLM (telemetry) frame, unencrypted version 0."""

    battery_mv: int
    temperature_c: float | None
    advert_count: int
    uptime_s: float
    kind: str = "eddystone-tlm"


Beacon = IBeacon | AltBeacon | EddystoneUID | EddystoneURL | EddystoneTLM


def decode_ibeacon(manufacturer_data: dict[int, bytes]) -> IBeacon | None:
    """The iBeacon in Apple's manufacturer data, if any."""
    data = manufacturer_data.get(APPLE)
    if data is None or len(data) < 23 or data[0] != 0x02 or data[1] != 0x15:
        return None
    major, minor, power = struct.unpack(">HHb", data[18:23])
    return IBeacon(str(uuid.UUID(bytes=data[2:18])), major, minor, power)


def decode_altbeacon(manufacturer_data: dict[int, bytes]) -> AltBeacon | None:
    """The AltBeacon in any company's manufacturer data, if any."""
    for company, data in manufacturer_data.items():
        if len(data) >= 24 and data[0] == 0xBE and data[1] == 0xAC:
            return AltBeacon(company, data[2:22].hex(), struct.unpack(">b", data[22:23])[0])
    return None


def _decode_url(scheme: int, body: bytes) -> str | None:
    """Expand an Eddystone-URL encoding."""
    if scheme >= len(URL_SCHEMES):
        return None
    out = URL_SCHEMES[scheme]
    for byte in body:
        if byte < len(URL_EXPANSIONS):
            out += URL_EXPANSIONS[byte]
        elif 0x20 < byte < 0x7F:
            out += chr(byte)
        else:
            return None
    return out


def decode_eddystone(service_data: dict[str, bytes]) -> EddystoneUID | EddystoneURL | EddystoneTLM | None:
    """The Eddystone frame in 0xFEAA service data, if any."""
    data = service_data.get(EDDYSTONE_UUID)
    if not data:
        return None
    frame = data[0]
    if frame == 0x00 and len(data) >= 18:
        return EddystoneUID(data[2:12].hex(), data[12:18].hex(), struct.unpack(">b", data[1:2])[0])
    if frame == 0x10 and len(data) >= 4:
        url = _decode_url(data[2], data[3:])
        return None if url is None else EddystoneURL(url, struct.unpack(">b", data[1:2])[0])
    if frame == 0x20 and len(data) >= 14 and data[1] == 0x00:
        battery, temp_raw, count, tenths = struct.unpack(">HhII", data[2:14])
        temperature = None if temp_raw == -0x8000 else temp_raw / 256.0
        return EddystoneTLM(battery, temperature, count, tenths / 10.0)
    return None


def decode_beacon(manufacturer_data: dict[int, bytes], service_data: dict[str, bytes]) -> Beacon | None:
    """Whichever recognised beacon frame an advertisement carries."""
    return (decode_ibeacon(manufacturer_data) or decode_altbeacon(manufacturer_data)
            or decode_eddystone(service_data))


def encode_ibeacon(beacon_uuid: str, major: int, minor: int, tx_power: int = -59) -> bytes:
    """Apple manufacturer data of an iBeacon (for the emulator and tests)."""
    return b"\x02\x15" + uuid.UUID(beacon_uuid).bytes + struct.pack(">HHb", major, minor, tx_power)


def encode_eddystone_uid(namespace: str, instance: str, tx_power: int = -20) -> bytes:
    """0xFEAA service data of an Eddystone-UID frame."""
    return bytes([0x00]) + struct.pack(">b", tx_power) + bytes.fromhex(namespace) + bytes.fromhex(instance) + b"\0\0"
