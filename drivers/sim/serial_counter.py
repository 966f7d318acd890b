"""A people counter on a real pty, speaking the ASCII line protocol or Terabee's binary frame.

The driver opens a stable symlink (``link``) that points at the current pty slave, as
``/dev/serial/by-id/...`` points at a USB adapter. ``unplug()`` closes the pty (the reader gets
an I/O error, exactly as when a USB adapter is pulled) and removes the link; ``replug()`` makes a
new pty and points the link at it. ``inject_garbage()``, ``reset()`` (power loss: counters back
to 0) and ``set_counts()`` (e.g. just below the 16-bit wrap) drive the faults a technician or a
test needs.
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
import time
import tty
from dataclasses import dataclass, field

from drivers.serial_counter import ascii as ascii_protocol
from drivers.serial_counter import terabee


@dataclass
class EmulatorStats:
    """What the emulator has done, for tests and the technician's screen."""

    reports: int = 0
    people_in: int = 0
    people_out: int = 0
    garbage_bytes: int = 0
    dropped_writes: int = 0
    unplugs: int = 0


@dataclass
class SerialCounterEmulator:
    """One counter; ``start()`` it, point a driver at ``link``, ``stop()`` it when done."""

    link: str
    protocol: str = "ascii"
    people_per_minute: float = 30.0
    report_interval_s: float = 1.0
    sensor_id: int = 4711
    seed: int | None = None
    max_group_size: int = 1
    """People arrive in groups of 1 to this many, each group walking the same way (a scene parameter: the
    counter's bytes are the same, its counts just grow by a group at once); 1: one by one."""
    stats: EmulatorStats = field(default_factory=EmulatorStats)

    def __post_init__(self) -> None:
        if self.protocol not in ("ascii", "terabee"):
            raise ValueError(f"unknown protocol {self.protocol!r}; use ascii or terabee")
        if self.max_group_size < 1:
            raise ValueError(f"max_group_size must be at least 1, not {self.max_group_size}")
        self.count_in = 0
        self.count_out = 0
        self.frame_counter = 0
        self._rng = random.Random(self.seed)
        self._lock = threading.RLock()
        self._master: int | None = None
        self._slave: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pending_people = 0.0
        # drawn only for groups: one by one, the seeded sequence of arrivals stays what it always was
        self._next_group = self._rng.randint(1, self.max_group_size) if self.max_group_size > 1 else 1

    # ---- the pty ------------------------------------------------------------------------
    def _plug(self) -> None:
        """Create a pty in raw mode and point the link at its slave."""
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no line discipline: bytes arrive as the device sent them
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        tmp = f"{self.link}.tmp-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        os.symlink(os.ttyname(slave), tmp)
        os.replace(tmp, self.link)

    def unplug(self) -> None:
        """Pull the cable: the reader's next read fails and the link disappears."""
        with self._lock:
            for fd in (self._master, self._slave):
                if fd is not None:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            self._master = self._slave = None
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.link)
            self.stats.unplugs += 1

    def replug(self) -> None:
        """Plug the counter back in (a new pty behind the same link)."""
        with self._lock:
            if self._master is None:
                self._plug()

    @property
    def plugged(self) -> bool:
        """True while a pty is behind the link."""
        return self._master is not None

    # ---- faults -------------------------------------------------------------------------
    def inject_garbage(self, size: int = 32) -> None:
        """Send ``size`` random bytes (line noise, a wrong baud rate)."""
        noise = bytes(self._rng.randrange(256) for _ in range(size)).replace(b"\n", b"#")
        self._write(noise)
        self.stats.garbage_bytes += size

    def reset(self) -> None:
        """Power loss: the counters start again from 0."""
        with self._lock:
            self.count_in = self.count_out = 0

    def set_counts(self, count_in: int, count_out: int) -> None:
        """Set the cumulative counters (e.g. just below the wrap-around)."""
        with self._lock:
            self.count_in, self.count_out = count_in, count_out

    def walk(self, people_in: int, people_out: int) -> None:
        """People pass the door now (added to the cumulative counters)."""
        with self._lock:
            self.count_in += people_in
            self.count_out += people_out
            self.stats.people_in += people_in
            self.stats.people_out += people_out

    # ---- reporting ----------------------------------------------------------------------
    def frame(self) -> bytes:
        """The current counts as the protocol's bytes."""
        with self._lock:
            self.frame_counter += 1
            if self.protocol == "ascii":
                return ascii_protocol.encode(self.count_in, self.count_out, str(self.sensor_id))
            return terabee.encode(self.sensor_id, self.frame_counter, self.count_in, self.count_out)

    def _write(self, data: bytes) -> None:
        """Write to the pty; like a real device, it does not wait for a reader."""
        with self._lock:
            if self._master is None:
                return
            try:
                os.write(self._master, data)
            except BlockingIOError:
                self.stats.dropped_writes += 1
            except OSError:
                pass

    def report_now(self) -> None:
        """Send one report with the current counts."""
        self._write(self.frame())
        self.stats.reports += 1

    def _simulate_people(self, elapsed: float) -> None:
        """Random arrivals and departures at the configured rate (in groups when ``max_group_size`` > 1)."""
        self._pending_people += self.people_per_minute * elapsed / 60.0
        if self.max_group_size > 1:
            # a group comes once the rate has brought enough people for it: the same people per minute
            while self._pending_people >= self._next_group:
                size, self._next_group = self._next_group, self._rng.randint(1, self.max_group_size)
                self._pending_people -= size
                if self._rng.random() < 0.5:
                    self.walk(size, 0)
                else:
                    self.walk(0, size)
            return
        arrivals = int(self._pending_people)
        self._pending_people -= arrivals
        if arrivals:
            people_in = sum(1 for _ in range(arrivals) if self._rng.random() < 0.5)
            self.walk(people_in, arrivals - people_in)

    def _run(self) -> None:
        """Report every interval until stopped."""
        last = time.monotonic()
        while not self._stop.wait(self.report_interval_s):
            now = time.monotonic()
            self._simulate_people(now - last)
            last = now
            self.report_now()

    def start(self) -> SerialCounterEmulator:
        """Create the pty and start reporting."""
        self._plug()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"sim-counter:{self.link}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop reporting and unplug."""
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        self.unplug()
        self.stats.unplugs -= 1  # stopping is not a fault
