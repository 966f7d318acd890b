"""CRC-8 with polynomial 0x07 and initial value 0 (CRC-8/SMBUS), as Terabee counters use."""

from __future__ import annotations


def _table() -> tuple[int, ...]:
    """The 256-entry lookup table of the polynomial."""
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
        table.append(crc)
    return tuple(table)


_TABLE = _table()


def crc8(data: bytes) -> int:
    """CRC-8/SMBUS of ``data``."""
    crc = 0
    for byte in data:
        crc = _TABLE[crc ^ byte]
    return crc
