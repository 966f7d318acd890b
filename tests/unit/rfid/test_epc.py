"""EPC decoding against the GS1 Tag Data Standard vectors, and our SGTIN-96 encoder."""

from __future__ import annotations

from drivers.sim.llrp.population import sgtin96
from gateway.pipelines.epc import decode_epc


def test_tds_vectors() -> None:
    sgtin = decode_epc("3074257bf7194e4000001a85")
    assert (sgtin.scheme, sgtin.gtin, sgtin.serial) == ("sgtin", "80614141123458", "6789")
    assert sgtin.uri == "urn:epc:id:sgtin:0614141.812345.6789" and sgtin.hex == "3074257BF7194E4000001A85"
    assert decode_epc("3174257BF4499602D2000000").uri == "urn:epc:id:sscc:0614141.1234567890"
    assert decode_epc("3374257BF40C0E4000000190").uri == "urn:epc:id:grai:0614141.12345.400"
    assert decode_epc("3474257BF40000000000162E").uri == "urn:epc:id:giai:0614141.5678"


def test_non_gs1_is_kept_raw_and_decoding_is_cached() -> None:
    raw = decode_epc("E28011606000020000000001")
    assert raw.scheme == "raw" and raw.gtin is None and raw.hex == "E28011606000020000000001"
    before = decode_epc.cache_info().hits
    decode_epc("E28011606000020000000001")
    assert decode_epc.cache_info().hits == before + 1


def test_our_sgtin96_encoder_matches_the_standard() -> None:
    assert sgtin96("0614141", "812345", 6789, filter_value=3) == "3074257BF7194E4000001A85"
    for company, reference in (("4012345", "012345"), ("0037000", "030113")):
        info = decode_epc(sgtin96(company, reference, 42))
        assert info.scheme == "sgtin" and info.serial == "42" and info.gtin and len(info.gtin) == 14
