"""The LLRP driver (sllurp) and a reader over real TCP: handshake, reports, faults, recovery."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from hil import ReaderUnderTest

from drivers.base import Backoff, DriverState
from drivers.llrp import LLRPDriver, TagRead


async def until(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    """Wait on the loop until ``predicate`` holds."""
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def run_with_driver(reader: ReaderUnderTest,
                          scenario: Callable[[LLRPDriver, list[TagRead]], Awaitable[None]],
                          silence_timeout_s: float = 3.0) -> LLRPDriver:
    """Run the real driver against the reader while ``scenario`` drives it."""
    driver = LLRPDriver("rut", host=reader.host, port=reader.port, reader_config={"antennas": [1, 2, 3, 4]},
                        silence_timeout_s=silence_timeout_s, backoff=Backoff(initial=0.2, maximum=1.0))
    reads: list[TagRead] = []
    task = asyncio.create_task(driver.run(reads.extend))
    try:
        await scenario(driver, reads)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        driver.shutdown()
    return driver


async def test_handshake_and_reports_arrive_without_errors(llrp_reader: ReaderUnderTest) -> None:
    async def scenario(driver: LLRPDriver, reads: list[TagRead]) -> None:
        await until(lambda: len(reads) > 100)

    driver = await run_with_driver(llrp_reader, scenario)
    assert driver.stats.reconnects == 0 and not driver.stats.errors
    reads = driver.reads_total
    assert reads > 100
    if llrp_reader.emulator is not None:
        assert llrp_reader.emulator.emulator.stats.connections == 1


async def test_report_fields_are_present(llrp_reader: ReaderUnderTest) -> None:
    import time

    captured: list[TagRead] = []

    async def scenario(driver: LLRPDriver, reads: list[TagRead]) -> None:
        await until(lambda: len(reads) > 50)
        captured.extend(reads)

    started = time.time()
    await run_with_driver(llrp_reader, scenario)
    assert all(1 <= r.antenna <= 4 for r in captured), "AntennaID must be enabled in the report"
    assert all(r.rssi is not None and -100 < r.rssi < 0 for r in captured), "PeakRSSI must be enabled"
    assert all(started - 1 <= r.time <= time.time() + 1 for r in captured), "times come from the gateway clock"
    assert all(len(r.epc) == 24 for r in captured)


async def test_fragmented_tcp_is_reassembled(llrp_reader: ReaderUnderTest) -> None:
    async def scenario(driver: LLRPDriver, reads: list[TagRead]) -> None:
        await until(lambda: len(reads) > 0)
        llrp_reader.fault("fragment", 97)  # odd-sized pieces split headers and parameters
        before = len(reads)
        await until(lambda: len(reads) > before + 300)
        llrp_reader.fault("fragment", 0)

    driver = await run_with_driver(llrp_reader, scenario)
    assert driver.stats.reconnects == 0


async def test_silent_reader_is_detected_and_reconnected(llrp_reader: ReaderUnderTest) -> None:
    async def scenario(driver: LLRPDriver, reads: list[TagRead]) -> None:
        await until(lambda: len(reads) > 0)
        llrp_reader.fault("silence", 4.0)  # keepalive loss: the socket stays open, nothing arrives
        await until(lambda: driver.stats.errors.get("silent", 0) >= 1)
        before = len(reads)
        await until(lambda: driver.stats.state == DriverState.CONNECTED and len(reads) > before, timeout=20)

    driver = await run_with_driver(llrp_reader, scenario, silence_timeout_s=2.0)
    assert driver.stats.reconnects >= 1


async def test_dropped_connection_is_reconnected_in_seconds(llrp_reader: ReaderUnderTest) -> None:
    async def scenario(driver: LLRPDriver, reads: list[TagRead]) -> None:
        await until(lambda: len(reads) > 0)
        llrp_reader.fault("drop_connections")
        await until(lambda: driver.stats.reconnects >= 1, timeout=10)  # sllurp alone waits 60 s
        before = len(reads)
        await until(lambda: len(reads) > before)

    await run_with_driver(llrp_reader, scenario)


async def test_malformed_message_is_survived(llrp_reader: ReaderUnderTest) -> None:
    async def scenario(driver: LLRPDriver, reads: list[TagRead]) -> None:
        await until(lambda: len(reads) > 0)
        llrp_reader.fault("send_malformed")
        await until(lambda: driver.stats.reconnects >= 1, timeout=15)
        before = len(reads)
        await until(lambda: len(reads) > before)

    driver = await run_with_driver(llrp_reader, scenario, silence_timeout_s=2.0)
    assert driver.stats.state in (DriverState.CONNECTED, DriverState.STOPPED)


async def test_impinj_extensions_handshake(llrp_reader: ReaderUnderTest) -> None:
    driver = LLRPDriver("rut", host=llrp_reader.host, port=llrp_reader.port,
                        reader_config={"antennas": [1, 2], "impinj_search_mode": 2, "impinj_reports": True},
                        silence_timeout_s=3.0, backoff=Backoff(initial=0.2, maximum=1.0))
    reads: list[TagRead] = []
    task = asyncio.create_task(driver.run(reads.extend))
    try:
        await until(lambda: len(reads) > 20)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        driver.shutdown()
    assert driver.stats.reconnects == 0 and not driver.stats.errors
