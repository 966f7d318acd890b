"""The serial counter driver against the emulator over a real pty: both protocols and every fault."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from drivers.base import Backoff, DriverState
from drivers.serial_counter import CounterReading, SerialCounterDriver
from drivers.sim.serial_counter import SerialCounterEmulator
from gateway.devices.context import DeviceContext
from gateway.devices.serial_counter.config import SerialCounterConfig
from gateway.devices.serial_counter.runner import run_device
from gateway.pipelines import Event


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait on the loop until ``predicate`` holds."""
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")


class RecordingSink:
    """An EventSink that keeps every (subject, event) it is given."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Event]] = []

    def commit_event(self, subject: str, event: Event) -> None:
        """Keep the event instead of committing it."""
        self.events.append((subject, event))


@pytest.mark.parametrize("protocol", ["ascii", "terabee"])
async def test_driver_survives_garbage_reset_wrap_and_unplug(tmp_path: Path, protocol: str) -> None:
    emulator = SerialCounterEmulator(link=str(tmp_path / "counter"), protocol=protocol, people_per_minute=0,
                                     report_interval_s=0.05).start()
    driver = SerialCounterDriver("door", port=emulator.link, protocol=protocol, read_timeout_s=0.05,
                                 unplug_timeout_s=0.5, backoff=Backoff(initial=0.05, maximum=0.2))
    readings: list[CounterReading] = []
    try:
        task = asyncio.create_task(driver.run(readings.append))
        try:
            await until(lambda: driver.stats.state == DriverState.CONNECTED and readings)
            emulator.walk(3, 1)
            await until(lambda: readings[-1].count_in == 3)
            emulator.inject_garbage(40)
            await until(lambda: driver.stats.errors.get("garbage", 0) > 0)
            emulator.reset()
            await until(lambda: readings[-1].count_in == 0)
            emulator.set_counts(65534, 10)
            await until(lambda: readings[-1].count_in == 65534)
            emulator.walk(4, 0)  # wraps past 2^16 on the Terabee frame
            expected = 2 if protocol == "terabee" else 65538
            await until(lambda: readings[-1].count_in == expected)
            emulator.unplug()
            await until(lambda: driver.stats.state == DriverState.RECONNECTING)
            emulator.walk(1, 0)
            emulator.replug()
            await until(lambda: driver.stats.state == DriverState.CONNECTED and driver.stats.reconnects == 1)
            await until(lambda: readings[-1].count_in == expected + 1)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    finally:
        emulator.stop()
    assert driver.stats.errors["unplugged"] >= 1
    assert all(r.sensor_id == "4711" for r in readings)
    assert readings == sorted(readings, key=lambda r: r.time)


async def test_silent_port_is_reopened(tmp_path: Path) -> None:
    emulator = SerialCounterEmulator(link=str(tmp_path / "counter"), report_interval_s=3600).start()
    driver = SerialCounterDriver("door", port=emulator.link, read_timeout_s=0.05, unplug_timeout_s=0.3,
                                 backoff=Backoff(initial=0.05, maximum=0.1))
    try:
        task = asyncio.create_task(driver.run(lambda r: None))
        await until(lambda: driver.stats.errors.get("silent", 0) >= 2)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    finally:
        emulator.stop()
    assert driver.stats.reconnects >= 1


async def test_missing_port_is_retried_with_backoff_not_fatal(tmp_path: Path) -> None:
    driver = SerialCounterDriver("door", port=str(tmp_path / "nothing"), read_timeout_s=0.05,
                                 backoff=Backoff(initial=0.05, maximum=0.1))
    task = asyncio.create_task(driver.run(lambda r: None))
    await until(lambda: driver.stats.errors.get("open_failed", 0) >= 3)
    assert not task.done()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert driver.stats.state == DriverState.RECONNECTING
    assert "cannot open" in (driver.stats.last_error or "")


async def test_runner_emits_footfall_with_the_people_who_walked_through(tmp_path: Path) -> None:
    emulator = SerialCounterEmulator(link=str(tmp_path / "counter"), protocol="terabee", people_per_minute=0,
                                     report_interval_s=0.05).start()
    sink = RecordingSink()
    events = sink.events
    context = DeviceContext(device_id="door-1", sink=sink, data_dir=str(tmp_path))
    config = SerialCounterConfig(id="door-1", port=emulator.link, protocol="terabee", door="main", interval_s=1.0,
                                 read_timeout_s=0.05)
    try:
        task = asyncio.create_task(run_device(config, context))
        await until(lambda: context.stats.readings > 2)
        emulator.walk(5, 2)
        await asyncio.sleep(0.3)
        emulator.reset()  # a power cut at the counter
        await asyncio.sleep(0.2)
        emulator.walk(1, 1)
        await until(lambda: sum(e.data.in_ for _, e in events) == 6, timeout=5)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    finally:
        emulator.stop()
    assert {subject for subject, _ in events} == {"door-1"}
    assert all(e.type == "footfall" and e.data.line == "main" for _, e in events)
    assert sum(e.data.in_ for _, e in events) == 6 and sum(e.data.out for _, e in events) == 3
    assert (tmp_path / "state" / "door-1.counter.json").exists()


async def test_a_count_beyond_the_counter_range_over_a_pty_is_garbage_not_a_reading(tmp_path: Path) -> None:
    emulator = SerialCounterEmulator(link=str(tmp_path / "counter"), people_per_minute=0,
                                     report_interval_s=0.05).start()
    driver = SerialCounterDriver("door", port=emulator.link, read_timeout_s=0.05, counter_bits=16,
                                 backoff=Backoff(initial=0.05, maximum=0.2))
    readings: list[CounterReading] = []
    try:
        task = asyncio.create_task(driver.run(readings.append))
        try:
            emulator.set_counts(5, 0)
            await until(lambda: bool(readings) and readings[-1].count_in == 5)
            emulator.set_counts(70000, 0)  # IN=70000 from a 16-bit counter
            await until(lambda: driver.stats.errors.get("garbage", 0) >= 3)
            emulator.set_counts(3, 0)
            await until(lambda: readings[-1].count_in == 3)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    finally:
        emulator.stop()
    assert max(r.count_in for r in readings) == 5, "a count beyond 2^16 - 1 must never become a reading"


async def test_runner_never_publishes_negative_footfall_after_an_out_of_range_count(tmp_path: Path) -> None:
    emulator = SerialCounterEmulator(link=str(tmp_path / "counter"), protocol="ascii", people_per_minute=0,
                                     report_interval_s=0.05).start()
    sink = RecordingSink()
    events = sink.events
    context = DeviceContext(device_id="door-1", sink=sink, data_dir=str(tmp_path))
    config = SerialCounterConfig(id="door-1", port=emulator.link, protocol="ascii", door="main", interval_s=1.0,
                                 read_timeout_s=0.05, counter_bits=16)
    try:
        task = asyncio.create_task(run_device(config, context))
        emulator.set_counts(5, 0)
        await until(lambda: context.stats.readings > 2)
        emulator.set_counts(70000, 0)
        readings = context.stats.readings
        await until(lambda: context.stats.readings > readings + 3 or context.stats.errors.get("garbage", 0) > 3)
        emulator.set_counts(3, 0)  # then IN=3: the issue's -4461
        readings = context.stats.readings
        await until(lambda: context.stats.readings > readings + 3)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    finally:
        emulator.stop()
    assert events and all(e.data.in_ >= 0 and e.data.out >= 0 for _, e in events), [e.data for _, e in events]
    assert sum(e.data.in_ for _, e in events) == 3  # 5 -> 3 is a power loss: 3 people since
