"""The generic ASCII line protocol (docs/serial-ascii-protocol.md).

One line per report, cumulative counts since the counter powered up:

    IN=<n> OUT=<n>[ ID=<sensor>][*HH]\\r\\n

``*HH`` is an optional NMEA-style checksum: the XOR of every byte before ``*``, in hex. A count
above the counter's range (``max_count``, 2^counter_bits - 1) is not a count: the line is garbage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LINE = re.compile(r"^IN=(\d{1,20}) OUT=(\d{1,20})(?: ID=([A-Za-z0-9_.:-]{1,32}))?$")
MAX_LINE = 256
MAX_COUNT = 2**64 - 1
"""The widest counter the protocol allows (``counter_bits`` is at most 64)."""


@dataclass(slots=True, frozen=True)
class AsciiReport:
    """One parsed report line."""

    sensor_id: str
    count_in: int
    count_out: int


def checksum(body: bytes) -> int:
    """XOR of the bytes of ``body``."""
    value = 0
    for byte in body:
        value ^= byte
    return value


def encode(count_in: int, count_out: int, sensor_id: str | None = None, *, with_checksum: bool = True) -> bytes:
    """One report line as a counter sends it."""
    body = f"IN={count_in} OUT={count_out}" + (f" ID={sensor_id}" if sensor_id else "")
    raw = body.encode()
    return raw + (f"*{checksum(raw):02X}".encode() if with_checksum else b"") + b"\r\n"


class AsciiParser:
    """Splits a byte stream into reports; malformed lines and counts above ``max_count`` are ``garbage``."""

    def __init__(self, max_count: int = MAX_COUNT) -> None:
        self._buffer = b""
        self.garbage = 0
        self.max_count = max_count

    def feed(self, data: bytes) -> list[AsciiReport]:
        """Parse every complete line in ``data`` (plus what was left before)."""
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        if len(self._buffer) > MAX_LINE:  # no newline in sight: noise, not a report
            self._buffer = b""
            self.garbage += 1
        reports = []
        for raw in lines:
            report = self._parse(raw.rstrip(b"\r"))
            if report is not None:
                reports.append(report)
        return reports

    def _parse(self, raw: bytes) -> AsciiReport | None:
        """One line, or None (counted) if it is not a valid report."""
        if not raw:
            return None
        body = raw
        if b"*" in raw:
            body, _, given = raw.rpartition(b"*")
            try:
                if int(given, 16) != checksum(body):
                    self.garbage += 1
                    return None
            except ValueError:
                self.garbage += 1
                return None
        try:
            match = LINE.match(body.decode("ascii"))
        except UnicodeDecodeError:
            match = None
        if match is None:
            self.garbage += 1
            return None
        count_in, count_out = int(match.group(1)), int(match.group(2))
        if count_in > self.max_count or count_out > self.max_count:
            self.garbage += 1  # beyond what the counter can hold: a corrupt line, not a count
            return None
        return AsciiReport(match.group(3) or "", count_in, count_out)
