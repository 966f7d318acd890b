"""The two counter protocols on their own: frames, checksums, resynchronisation, garbage."""

from __future__ import annotations

from drivers.serial_counter import ascii as ascii_protocol
from drivers.serial_counter import terabee
from drivers.serial_counter.crc8 import crc8


def test_crc8_matches_the_smbus_check_value() -> None:
    assert crc8(b"123456789") == 0xF4  # CRC-8/SMBUS catalogue check value (poly 0x07, init 0)
    assert crc8(b"") == 0


def test_terabee_frame_layout_and_round_trip() -> None:
    frame = terabee.encode(sensor_id=0x01020304, frame_counter=7, count_in=65537, count_out=2)
    assert len(frame) == 15 and frame[:2] == b"PC"
    assert frame[2:6] == b"\x01\x02\x03\x04" and frame[10:12] == b"\x00\x01"  # big-endian, in wraps at 2^16
    parsed = terabee.TerabeeParser().feed(frame)
    assert [(f.sensor_id, f.frame_counter, f.count_in, f.count_out) for f in parsed] == [(0x01020304, 7, 1, 2)]


def test_terabee_parser_resynchronises_after_noise_and_bad_crc_and_split_frames() -> None:
    parser = terabee.TerabeeParser()
    good = terabee.encode(1, 1, 10, 20)
    corrupt = bytearray(terabee.encode(1, 2, 11, 20))
    corrupt[8] ^= 0xFF
    stream = b"\x00\xffnoise" + bytes(corrupt) + good + b"PCP" + terabee.encode(1, 3, 12, 21)
    frames = parser.feed(stream[:20]) + parser.feed(stream[20:33]) + parser.feed(stream[33:])
    assert [(f.frame_counter, f.count_in) for f in frames] == [(1, 10), (3, 12)]
    assert parser.garbage >= 3


def test_ascii_lines_with_and_without_checksum_and_garbage() -> None:
    parser = ascii_protocol.AsciiParser()
    line = ascii_protocol.encode(12, 7, "door-a")
    expected_sum = f"{ascii_protocol.checksum(b'IN=12 OUT=7 ID=door-a'):02X}".encode()
    assert line == b"IN=12 OUT=7 ID=door-a*" + expected_sum + b"\r\n"
    bad_sum = b"IN=13 OUT=7*00\r\n"
    tail = ascii_protocol.encode(14, 8, with_checksum=False)
    stream = line + b"IN=x OUT=1\r\n" + bad_sum + b"\x00\x01\x02\n" + tail
    reports = parser.feed(stream[:9]) + parser.feed(stream[9:])
    assert [(r.sensor_id, r.count_in, r.count_out) for r in reports] == [("door-a", 12, 7), ("", 14, 8)]
    assert parser.garbage == 3


def test_ascii_parser_drops_an_endless_line() -> None:
    parser = ascii_protocol.AsciiParser()
    assert parser.feed(b"A" * 1000) == []
    assert parser.garbage == 1
    assert [r.count_in for r in parser.feed(b"\nIN=1 OUT=0\n")] == [1]


def test_ascii_count_beyond_the_counter_range_is_garbage() -> None:
    parser = ascii_protocol.AsciiParser(max_count=2**16 - 1)
    stream = (ascii_protocol.encode(65535, 0) + ascii_protocol.encode(70000, 3) + ascii_protocol.encode(3, 65536)
              + ascii_protocol.encode(3, 1))
    assert [(r.count_in, r.count_out) for r in parser.feed(stream)] == [(65535, 0), (3, 1)]
    assert parser.garbage == 2
    widest = ascii_protocol.AsciiParser()  # no range given: the protocol's own limit, 64 bits
    assert [r.count_in for r in widest.feed(ascii_protocol.encode(2**64 - 1, 0) + ascii_protocol.encode(2**64, 0))] \
        == [2**64 - 1]
    assert widest.garbage == 1
