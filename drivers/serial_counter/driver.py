"""A people counter on a serial port: pyserial on its own thread, readings handed to the loop.

Any pyserial URL works: a device path, a pty, ``socket://host:port``, ``loop://``. An unplugged
USB adapter is only noticed on read, so every read has a timeout; no byte for
``unplug_timeout_s`` (counters report at least every second) or a read error closes the port,
and it is reopened with jittered backoff until the device is back. A report whose count is
outside the counter's range (``counter_bits``) is garbage: counted and skipped, never a reading.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import serial

from drivers.base import Backoff, Driver, DriverStats
from drivers.serial_counter.ascii import MAX_COUNT, AsciiParser
from drivers.serial_counter.readings import CounterReading
from drivers.serial_counter.terabee import TerabeeParser

log = logging.getLogger("storegw.driver.serial_counter")
PROTOCOLS = ("ascii", "terabee")


class DeviceSilent(Exception):
    """No byte arrived for longer than the unplug timeout."""


class SerialCounterDriver(Driver[CounterReading]):
    """Reads one counter; survives garbage, resets and unplugs."""

    kind = "serial_counter"

    def __init__(self, device_id: str, *, port: str, protocol: str = "ascii", baudrate: int = 115200,
                 read_timeout_s: float = 1.0, unplug_timeout_s: float = 10.0,
                 counter_bits: int | None = None, backoff: Backoff | None = None,
                 stats: DriverStats | None = None) -> None:
        super().__init__(device_id, stats=stats, backoff=backoff or Backoff(initial=0.5, maximum=30.0))
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown counter protocol {protocol!r}; use one of {PROTOCOLS}")
        if counter_bits is not None and not 1 <= counter_bits <= 64:
            raise ValueError(f"counter_bits must be 1..64, not {counter_bits}")
        self.counter_bits = counter_bits
        """Width of the device's counters; None: the protocol's own limit (64 bits ASCII, 16 Terabee)."""
        self.port = port
        self.protocol = protocol
        self.baudrate = baudrate
        self.read_timeout_s = read_timeout_s
        self.unplug_timeout_s = unplug_timeout_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._handle: Any = None

    async def run(self, sink: Callable[[CounterReading], None]) -> None:
        """Read on a thread until cancelled; readings arrive in ``sink`` on the loop."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def deliver(readings: list[CounterReading]) -> None:
            """Hand readings to the sink (loop thread)."""
            self.stats.mark_reading(len(readings))
            for reading in readings:
                sink(reading)

        def post(func: Callable[..., None], *args: Any) -> None:
            """Run a function on the loop from the reader thread."""
            if not loop.is_closed():
                loop.call_soon_threadsafe(func, *args)

        def main() -> None:
            """The reader thread: read until stopped, then wake the loop."""
            try:
                self._read_forever(lambda readings: post(deliver, readings), post)
            finally:
                post(lambda: done.done() or done.set_result(None))

        self._stop.clear()
        self._thread = threading.Thread(target=main, name=f"serial:{self.device_id}", daemon=True)
        self._thread.start()
        try:
            await done
        finally:
            self._stop.set()
            thread = self._thread
            if thread is not None:
                await loop.run_in_executor(None, thread.join, 5)

    def _parser(self) -> AsciiParser | TerabeeParser:
        """A fresh parser for the protocol."""
        if self.protocol == "terabee":
            return TerabeeParser()  # 16-bit fields: a frame cannot carry a count beyond the range
        return AsciiParser(MAX_COUNT if self.counter_bits is None else (1 << self.counter_bits) - 1)

    def _read_forever(self, hand_over: Callable[[list[CounterReading]], None],
                      post: Callable[..., None]) -> None:
        """Open, read, reopen with backoff; runs on the driver's thread."""
        first = True
        while not self._stop.is_set():
            try:
                handle = serial.serial_for_url(self.port, baudrate=self.baudrate, timeout=self.read_timeout_s)
            except (serial.SerialException, OSError, ValueError) as exc:
                post(self._problem, "open_failed", f"cannot open {self.port}: {exc}")
                self._stop.wait(self.backoff.next_delay())
                continue
            self._handle = handle
            post(self._opened, not first)
            first = False
            try:
                self._read_port(handle, hand_over, post)
            except DeviceSilent as exc:
                post(self._problem, "silent", str(exc))
            except (serial.SerialException, OSError) as exc:
                post(self._problem, "unplugged", f"{self.port}: {exc}")
            finally:
                self._handle = None
                try:
                    handle.close()
                except (serial.SerialException, OSError):
                    pass
            if not self._stop.is_set():
                self._stop.wait(self.backoff.next_delay())

    def _read_port(self, handle: Any, hand_over: Callable[[list[CounterReading]], None],
                   post: Callable[..., None]) -> None:
        """Read one open port until it fails or falls silent."""
        parser = self._parser()
        last_byte = time.monotonic()
        garbage_seen = 0
        while not self._stop.is_set():
            data = handle.read(max(1, getattr(handle, "in_waiting", 0) or 1))
            now = time.monotonic()
            if not data:
                if now - last_byte > self.unplug_timeout_s:
                    raise DeviceSilent(f"no data from {self.port} for {self.unplug_timeout_s:g} s")
                continue
            last_byte = now
            self.backoff.reset()
            received = time.time()
            reports = parser.feed(data)
            if parser.garbage > garbage_seen:
                post(self._count_garbage, parser.garbage - garbage_seen)
                garbage_seen = parser.garbage
            if reports:
                hand_over([CounterReading(str(r.sensor_id), r.count_in, r.count_out, received) for r in reports])

    # ---- loop-side bookkeeping ---------------------------------------------------------
    def _problem(self, kind: str, message: str) -> None:
        """The port failed or would not open (loop thread); a report racing shutdown must not undo STOPPED."""
        if not self.closed:
            self.report_problem(kind, message)

    def _opened(self, reconnected: bool) -> None:
        """The port is open (loop thread); a reopen after a loss is counted and logged."""
        if reconnected:
            log.info("%s: %s reopened", self.device_id, self.port)
        if self.closed:  # opened while shutting down: counted, but the device stays STOPPED
            self.stats.reconnects += 1 if reconnected else 0
            return
        self.link_up(reconnected=reconnected)

    def _count_garbage(self, count: int) -> None:
        """Bytes or lines that were not a valid report."""
        self.stats.errors["garbage"] = self.stats.errors.get("garbage", 0) + count

    def _shutdown(self) -> None:
        """Stop the reader thread; it closes the port."""
        self._stop.set()
