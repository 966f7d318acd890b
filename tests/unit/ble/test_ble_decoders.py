"""Beacon decoders against the official vectors and round trips."""

from __future__ import annotations

from drivers.ble.decoders import (
    APPLE,
    EDDYSTONE_UUID,
    AltBeacon,
    EddystoneTLM,
    EddystoneUID,
    EddystoneURL,
    IBeacon,
    decode_beacon,
    encode_eddystone_uid,
    encode_ibeacon,
)


def test_ibeacon_vector() -> None:
    # manufacturer data after the 0x004C company id, from the RESEARCH vector
    data = bytes.fromhex("0215426c7565436861726d426561636f6e730efe1355c5")
    assert decode_beacon({APPLE: data}, {}) == IBeacon("426c7565-4368-6172-6d42-6561636f6e73", 3838, 4949, -59)
    assert decode_beacon({0x0059: data}, {}) is None  # iBeacon is Apple's only
    assert decode_beacon({APPLE: data[:10]}, {}) is None


def test_altbeacon_vector() -> None:
    # AltBeacon spec example: BEAC, id 2F234454CF6D4A0FADF2F4911BA9FFA6 0001 0002, ref RSSI C5, reserved 00
    data = bytes.fromhex("beac2f234454cf6d4a0fadf2f4911ba9ffa600010002c500")
    assert decode_beacon({0x0118: data}, {}) == AltBeacon(0x0118, "2f234454cf6d4a0fadf2f4911ba9ffa600010002", -59)


def test_eddystone_uid_with_and_without_rfu_bytes() -> None:
    frame = bytes.fromhex("00e8") + bytes.fromhex("0102030405060708090a") + bytes.fromhex("0b0c0d0e0f10")
    expected = EddystoneUID("0102030405060708090a", "0b0c0d0e0f10", -24)
    assert decode_beacon({}, {EDDYSTONE_UUID: frame}) == expected  # old beacons omit the 2 RFU bytes
    assert decode_beacon({}, {EDDYSTONE_UUID: frame + b"\0\0"}) == expected
    assert decode_beacon({}, {EDDYSTONE_UUID: encode_eddystone_uid("0102030405060708090a", "0b0c0d0e0f10", -24)}) \
        == expected


def test_eddystone_url_vector() -> None:
    # Eddystone-URL spec example: https://www.google.com/ -> 10 tx 01 "google" 00
    frame = bytes.fromhex("10eb01") + b"google" + b"\x00"
    assert decode_beacon({}, {EDDYSTONE_UUID: frame}) == EddystoneURL("https://www.google.com/", -21)
    assert decode_beacon({}, {EDDYSTONE_UUID: bytes.fromhex("10eb09") + b"x"}) is None  # unknown scheme


def test_eddystone_tlm_vector() -> None:
    # version 0, 3000 mV, 23.5 °C (0x1780), 1000 adverts, 360.0 s since boot
    frame = bytes.fromhex("2000" "0bb8" "1780" "000003e8" "00000e10")
    assert decode_beacon({}, {EDDYSTONE_UUID: frame}) == EddystoneTLM(3000, 23.5, 1000, 360.0)
    unknown_temp = bytes.fromhex("2000" "0bb8" "8000" "00000001" "00000001")
    tlm = decode_beacon({}, {EDDYSTONE_UUID: unknown_temp})
    assert isinstance(tlm, EddystoneTLM) and tlm.temperature_c is None


def test_ibeacon_round_trip() -> None:
    data = encode_ibeacon("5a4bcfce-174e-4bac-a814-092e77f6b7e5", 1, 65535, -70)
    assert decode_beacon({APPLE: data}, {}) == IBeacon("5a4bcfce-174e-4bac-a814-092e77f6b7e5", 1, 65535, -70)
