"""LLRP 1.0.1 framing, written from the specification (EPCglobal LLRP 1.0.1, sections 4 and 16).

A message is a 10-byte header — 3 reserved bits, 3 version bits (1), 10 type bits; a 32-bit
length that includes the header; a 32-bit message id — then its fields and parameters.
A TLV parameter has a 16-bit word (6 reserved bits, 10 type bits) and a 16-bit length that
includes its 4-byte header. A TV parameter is one byte with the top bit set and a 7-bit type,
followed by a value whose size the type fixes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

VERSION = 1
HEADER = struct.Struct("!HII")

# message types (LLRP 1.0.1, section 16.1)
GET_READER_CAPABILITIES = 1
GET_READER_CONFIG = 2
SET_READER_CONFIG = 3
CLOSE_CONNECTION_RESPONSE = 4
GET_READER_CAPABILITIES_RESPONSE = 11
GET_READER_CONFIG_RESPONSE = 12
SET_READER_CONFIG_RESPONSE = 13
CLOSE_CONNECTION = 14
ADD_ROSPEC = 20
DELETE_ROSPEC = 21
START_ROSPEC = 22
STOP_ROSPEC = 23
ENABLE_ROSPEC = 24
DISABLE_ROSPEC = 25
ADD_ACCESSSPEC = 40
DELETE_ACCESSSPEC = 41
ENABLE_ACCESSSPEC = 42
DISABLE_ACCESSSPEC = 43
RO_ACCESS_REPORT = 61
KEEPALIVE = 62
READER_EVENT_NOTIFICATION = 63
ENABLE_EVENTS_AND_REPORTS = 64
KEEPALIVE_ACK = 72
ERROR_MESSAGE = 100
CUSTOM_MESSAGE = 1023

# request -> response type; the response carries an LLRPStatus
RESPONSES = {
    GET_READER_CONFIG: GET_READER_CONFIG_RESPONSE, SET_READER_CONFIG: SET_READER_CONFIG_RESPONSE,
    CLOSE_CONNECTION: CLOSE_CONNECTION_RESPONSE, ADD_ROSPEC: 30, DELETE_ROSPEC: 31, START_ROSPEC: 32,
    STOP_ROSPEC: 33, ENABLE_ROSPEC: 34, DISABLE_ROSPEC: 35, ADD_ACCESSSPEC: 50, DELETE_ACCESSSPEC: 51,
    ENABLE_ACCESSSPEC: 52, DISABLE_ACCESSSPEC: 53,
}

# TLV parameter types
UTC_TIMESTAMP = 128
GENERAL_DEVICE_CAPABILITIES = 137
LLRP_CAPABILITIES = 142
REGULATORY_CAPABILITIES = 143
UHF_BAND_CAPABILITIES = 144
TRANSMIT_POWER_LEVEL_TABLE_ENTRY = 145
FREQUENCY_INFORMATION = 146
FREQUENCY_HOP_TABLE = 147
ROSPEC = 177
RO_REPORT_SPEC = 237
TAG_REPORT_CONTENT_SELECTOR = 238
TAG_REPORT_DATA = 240
KEEPALIVE_SPEC = 220
READER_EVENT_NOTIFICATION_DATA = 246
CONNECTION_ATTEMPT_EVENT = 256
LLRP_STATUS = 287
C1G2_LLRP_CAPABILITIES = 327
UHF_C1G2_RF_MODE_TABLE = 328
UHF_C1G2_RF_MODE_TABLE_ENTRY = 329

# TV parameter types and their value formats
TV_FORMATS = {1: "!H", 2: "!Q", 3: "!Q", 4: "!Q", 5: "!Q", 6: "!b", 7: "!H", 8: "!H", 9: "!I", 10: "!H",
              11: "!H", 12: "!H", 13: "12s", 14: "!H", 16: "!I", 17: "!H", 18: "!H"}
ANTENNA_ID, FIRST_SEEN_UTC, LAST_SEEN_UTC, PEAK_RSSI, CHANNEL_INDEX, TAG_SEEN_COUNT, ROSPEC_ID = 1, 2, 4, 6, 7, 8, 9
EPC_96 = 13
SPEC_INDEX, INVENTORY_PARAMETER_SPEC_ID, ACCESS_SPEC_ID = 14, 10, 16

# TagReportContentSelector flag bits, most significant first (section 16.2.7.1)
CONTENT_FLAGS = ("ROSpecID", "SpecIndex", "InventoryParameterSpecID", "AntennaID", "ChannelIndex", "PeakRSSI",
                 "FirstSeenTimestamp", "LastSeenTimestamp", "TagSeenCount", "AccessSpecID")

IMPINJ_VENDOR = 25882
IMPINJ_ENABLE_EXTENSIONS = 21
IMPINJ_ENABLE_EXTENSIONS_RESPONSE = 22


class FrameError(ValueError):
    """Bytes that are not an LLRP message."""


@dataclass(frozen=True, slots=True)
class Message:
    """One LLRP message."""

    type: int
    id: int
    body: bytes


def encode_message(message_type: int, message_id: int, body: bytes = b"") -> bytes:
    """A whole message with its header."""
    return HEADER.pack((VERSION << 10) | message_type, HEADER.size + len(body), message_id) + body


def tlv(param_type: int, body: bytes = b"") -> bytes:
    """A TLV parameter."""
    return struct.pack("!HH", param_type & 0x3FF, 4 + len(body)) + body


def tv(param_type: int, value: int | bytes) -> bytes:
    """A TV parameter."""
    return bytes([0x80 | param_type]) + struct.pack(TV_FORMATS[param_type], value)


def llrp_status(code: int = 0, description: str = "") -> bytes:
    """LLRPStatus; code 0 is M_Success."""
    text = description.encode()
    return tlv(LLRP_STATUS, struct.pack("!HH", code, len(text)) + text)


def iter_params(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(type, value) of each parameter in ``data``; raises FrameError on a truncated one."""
    offset = 0
    while offset < len(data):
        first = data[offset]
        if first & 0x80:
            kind = first & 0x7F
            fmt = TV_FORMATS.get(kind)
            if fmt is None:
                raise FrameError(f"unknown TV parameter type {kind}")
            size = struct.calcsize(fmt)
            yield kind, data[offset + 1:offset + 1 + size]
            offset += 1 + size
            continue
        if offset + 4 > len(data):
            raise FrameError("truncated parameter header")
        kind, length = struct.unpack_from("!HH", data, offset)
        if length < 4 or offset + length > len(data):
            raise FrameError(f"parameter {kind & 0x3FF} has a bad length {length}")
        yield kind & 0x3FF, data[offset + 4:offset + length]
        offset += length


def find_param(data: bytes, wanted: int) -> bytes | None:
    """The value of the first parameter of type ``wanted`` at any depth of a known container."""
    for kind, value in iter_params(data):
        if kind == wanted:
            return value
    return None


class Deframer:
    """Splits a TCP byte stream into messages, however it was fragmented."""

    def __init__(self, max_length: int = 16 * 1024 * 1024) -> None:
        self._buffer = bytearray()
        self.max_length = max_length

    def feed(self, data: bytes) -> list[Message]:
        """Every complete message received so far; raises FrameError on a bad header."""
        self._buffer += data
        messages = []
        while len(self._buffer) >= HEADER.size:
            word, length, message_id = HEADER.unpack_from(self._buffer)
            version = (word >> 10) & 0x7
            if version != VERSION or length < HEADER.size or length > self.max_length:
                raise FrameError(f"bad message header (version {version}, length {length})")
            if len(self._buffer) < length:
                break
            body = bytes(self._buffer[HEADER.size:length])
            del self._buffer[:length]
            messages.append(Message(word & 0x3FF, message_id, body))
        return messages
