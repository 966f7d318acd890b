"""The Terabee people counter binary frame.

15 bytes, big-endian: ``"PC"`` · sensor id (u32) · frame counter (u32) · in (u16) · out (u16) ·
CRC-8 (poly 0x07, init 0) over the 14 bytes before it. In and out are cumulative and wrap at 2^16.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from drivers.serial_counter.crc8 import crc8

HEADER = b"PC"
FRAME = struct.Struct(">2sIIHH")
FRAME_LEN = FRAME.size + 1
COUNTER_BITS = 16


@dataclass(slots=True, frozen=True)
class TerabeeFrame:
    """One decoded frame."""

    sensor_id: int
    frame_counter: int
    count_in: int
    count_out: int


def encode(sensor_id: int, frame_counter: int, count_in: int, count_out: int) -> bytes:
    """A frame as the counter sends it (counts taken modulo 2^16)."""
    body = FRAME.pack(HEADER, sensor_id, frame_counter & 0xFFFFFFFF, count_in & 0xFFFF, count_out & 0xFFFF)
    return body + bytes([crc8(body)])


class TerabeeParser:
    """Finds frames in a byte stream, resynchronising on "PC"; bad bytes are counted in ``garbage``."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.garbage = 0

    def feed(self, data: bytes) -> list[TerabeeFrame]:
        """Every valid frame in what has arrived so far."""
        self._buffer += data
        frames = []
        while True:
            start = self._buffer.find(HEADER)
            if start < 0:
                # keep a trailing "P": it may be the first half of a header
                keep = 1 if self._buffer.endswith(b"P") else 0
                if len(self._buffer) > keep:
                    self.garbage += 1
                del self._buffer[:len(self._buffer) - keep]
                return frames
            if start > 0:
                self.garbage += 1
                del self._buffer[:start]
            if len(self._buffer) < FRAME_LEN:
                return frames
            candidate = bytes(self._buffer[:FRAME_LEN])
            if crc8(candidate[:-1]) != candidate[-1]:
                self.garbage += 1
                del self._buffer[:1]  # resynchronise on the next "PC"
                continue
            _, sensor_id, counter, count_in, count_out = FRAME.unpack(candidate[:-1])
            frames.append(TerabeeFrame(sensor_id, counter, count_in, count_out))
            del self._buffer[:FRAME_LEN]
