"""An LLRP reader on TCP: the handshake sllurp and other clients use, inventory reports, faults.

The reader greets each connection with READER_EVENT_NOTIFICATION (ConnectionAttemptEvent
Success), answers capabilities, config and ROSpec/AccessSpec management with LLRPStatus
Success, sends KEEPALIVE at the period of the client's KeepaliveSpec, and while an enabled
ROSpec exists sends RO_ACCESS_REPORTs every ``report_interval_s`` with the fields its
TagReportContentSelector asks for. Faults on demand: ``drop_connections()``, ``silence(s)``,
``fragment`` (writes split into small pieces), ``send_malformed()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from dataclasses import dataclass, field

from drivers.sim.llrp import protocol as p
from drivers.sim.llrp.population import Population

log = logging.getLogger("storegw.sim.llrp")

MODE = struct.pack("!IBBBBIIIII", 1000, 0x80, 2, 0, 4, 640_000, 1500, 6250, 25_000, 0)  # DR 64/3, Miller 4


@dataclass
class ReaderStats:
    """What the emulator did, for tests and the technician."""

    connections: int = 0
    reports: int = 0
    tag_reads: int = 0
    keepalives: int = 0
    messages_in: int = 0
    bad_frames: int = 0


@dataclass(eq=False)
class Session:
    """One client connection's state."""

    writer: asyncio.StreamWriter
    content: dict[str, bool] = field(default_factory=lambda: {f: False for f in p.CONTENT_FLAGS})
    rospec_id: int = 0
    inventorying: bool = False
    keepalive_s: float = 0.0
    next_id: int = 1000
    write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Fragments of one message must not interleave with another's."""


class LLRPReaderEmulator:
    """A simulated fixed reader with ``antennas`` antennas and a tag population."""

    def __init__(self, population: Population | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 antennas: int = 4, report_interval_s: float = 0.5, read_rate: float = 0.9,
                 cross_read: float = 0.15, churn_every_s: float = 0.0, tags_per_report: int | None = None) -> None:
        self.population = population or Population.generate(300, antennas=antennas)
        self.host = host
        self.port = port
        self.antennas = antennas
        self.report_interval_s = report_interval_s
        self.read_rate = read_rate
        self.cross_read = cross_read
        self.churn_every_s = churn_every_s
        self.tags_per_report = tags_per_report
        self.fragment = 0
        """When > 0, every write is split into pieces of this many bytes, sent with small pauses."""
        self.stats = ReaderStats()
        self._silent_until = 0.0
        self._server: asyncio.AbstractServer | None = None
        self._sessions: set[Session] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    # ---- lifecycle ---------------------------------------------------------------------
    async def start(self) -> LLRPReaderEmulator:
        """Listen; ``self.port`` is the bound port afterwards."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        if self.churn_every_s:
            self._spawn(self._churn())
        return self

    async def stop(self) -> None:
        """Close every connection and stop listening."""
        if self._server:
            self._server.close()
        self.drop_connections()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await self._server.wait_closed()

    def start_in_thread(self) -> ThreadedEmulator:
        """Serve on an event loop of its own thread (for synchronous callers: tests, tools)."""
        return ThreadedEmulator(self)

    def _spawn(self, coro: object) -> asyncio.Task[None]:
        """Keep a reference to a background task."""
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ---- faults ------------------------------------------------------------------------
    def drop_connections(self) -> None:
        """Reset every client connection (a reader reboot or a cut cable)."""
        for session in list(self._sessions):
            transport = session.writer.transport
            with contextlib.suppress(Exception):
                transport.abort()
        self._sessions.clear()

    def silence(self, seconds: float) -> None:
        """Send nothing at all (no report, no keepalive) for ``seconds``, keeping the socket open."""
        self._silent_until = time.monotonic() + seconds

    def send_malformed(self) -> None:
        """Send a message with a wrong version and an impossible length to every client."""
        for session in list(self._sessions):
            self._write(session, struct.pack("!HII", (7 << 10) | 61, 3, 1) + b"\xff" * 16)

    @property
    def silent(self) -> bool:
        """True while a silence fault lasts."""
        return time.monotonic() < self._silent_until

    # ---- connection --------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Run one client connection."""
        session = Session(writer)
        self._sessions.add(session)
        self.stats.connections += 1
        self._send(session, p.READER_EVENT_NOTIFICATION, p.tlv(p.READER_EVENT_NOTIFICATION_DATA,
                   p.tlv(p.UTC_TIMESTAMP, struct.pack("!Q", int(time.time() * 1e6)))
                   + p.tlv(p.CONNECTION_ATTEMPT_EVENT, struct.pack("!H", 0))))
        tasks = [self._spawn(self._report_loop(session)), self._spawn(self._keepalive_loop(session))]
        deframer = p.Deframer()
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                try:
                    messages = deframer.feed(data)
                except p.FrameError as exc:
                    self.stats.bad_frames += 1
                    log.warning("llrp emulator: closing a connection that sent a bad frame (%s)", exc)
                    break
                for message in messages:
                    self.stats.messages_in += 1
                    if not self._handle(session, message):
                        return
        except (ConnectionError, OSError):
            pass
        finally:
            for task in tasks:
                task.cancel()
            self._sessions.discard(session)
            with contextlib.suppress(Exception):
                writer.close()

    def _handle(self, session: Session, message: p.Message) -> bool:
        """Answer one client message; False to close the connection."""
        kind = message.type
        if kind == p.GET_READER_CAPABILITIES:
            self._send(session, p.GET_READER_CAPABILITIES_RESPONSE, self._capabilities(), reply_to=message.id)
        elif kind == p.CUSTOM_MESSAGE:
            vendor, subtype = struct.unpack_from("!IB", message.body)
            if vendor == p.IMPINJ_VENDOR and subtype == p.IMPINJ_ENABLE_EXTENSIONS:
                body = struct.pack("!IB", vendor, p.IMPINJ_ENABLE_EXTENSIONS_RESPONSE) + p.llrp_status()
                self._send(session, p.CUSTOM_MESSAGE, body, reply_to=message.id)
            else:
                self._send(session, p.ERROR_MESSAGE, p.llrp_status(101, "unsupported custom message"),
                           reply_to=message.id)
        elif kind == p.SET_READER_CONFIG:
            self._apply_config(session, message.body)
            self._send(session, p.SET_READER_CONFIG_RESPONSE, p.llrp_status(), reply_to=message.id)
        elif kind == p.ADD_ROSPEC:
            self._add_rospec(session, message.body)
            self._send(session, p.RESPONSES[kind], p.llrp_status(), reply_to=message.id)
        elif kind in (p.ENABLE_ROSPEC, p.START_ROSPEC):
            session.inventorying = session.rospec_id != 0
            self._send(session, p.RESPONSES[kind], p.llrp_status(), reply_to=message.id)
        elif kind in (p.DISABLE_ROSPEC, p.STOP_ROSPEC, p.DELETE_ROSPEC):
            session.inventorying = False
            if kind == p.DELETE_ROSPEC:
                session.rospec_id = 0
            self._send(session, p.RESPONSES[kind], p.llrp_status(), reply_to=message.id)
        elif kind == p.CLOSE_CONNECTION:
            self._send(session, p.CLOSE_CONNECTION_RESPONSE, p.llrp_status(), reply_to=message.id)
            return False
        elif kind in p.RESPONSES:
            self._send(session, p.RESPONSES[kind], p.llrp_status(), reply_to=message.id)
        elif kind in (p.KEEPALIVE_ACK, p.ENABLE_EVENTS_AND_REPORTS):
            pass
        else:
            self._send(session, p.ERROR_MESSAGE, p.llrp_status(108, f"unsupported message type {kind}"),
                       reply_to=message.id)
        return True

    def _capabilities(self) -> bytes:
        """GET_READER_CAPABILITIES_RESPONSE body."""
        firmware = b"storegw-sim 1.0"
        general = p.tlv(p.GENERAL_DEVICE_CAPABILITIES, struct.pack("!HHIIH", self.antennas, 0x4000, 25882, 1,
                                                                   len(firmware)) + firmware)
        llrp_caps = p.tlv(p.LLRP_CAPABILITIES, struct.pack("!BBHIIIII", 0, 1, 0, 1, 32, 1, 1, 1))
        powers = b"".join(p.tlv(p.TRANSMIT_POWER_LEVEL_TABLE_ENTRY, struct.pack("!HH", i + 1, 1000 + 25 * i))
                          for i in range(81))  # 10.00 .. 30.00 dBm in 0.25 dB steps
        hop_table = p.tlv(p.FREQUENCY_HOP_TABLE, struct.pack("!BBH", 1, 0, 1) + struct.pack("!I", 866_900))
        frequency = p.tlv(p.FREQUENCY_INFORMATION, struct.pack("!B", 0x80) + hop_table)
        modes = p.tlv(p.UHF_C1G2_RF_MODE_TABLE, p.tlv(p.UHF_C1G2_RF_MODE_TABLE_ENTRY, MODE))
        band = p.tlv(p.UHF_BAND_CAPABILITIES, powers + frequency + modes)
        regulatory = p.tlv(p.REGULATORY_CAPABILITIES, struct.pack("!HH", 276, 2) + band)
        c1g2 = p.tlv(p.C1G2_LLRP_CAPABILITIES, struct.pack("!BH", 0, 1))
        return p.llrp_status() + general + llrp_caps + regulatory + c1g2

    def _apply_config(self, session: Session, body: bytes) -> None:
        """Take the keepalive period from SET_READER_CONFIG."""
        try:
            spec = p.find_param(body[1:], p.KEEPALIVE_SPEC)  # body starts with the ResetToFactoryDefault byte
        except p.FrameError:
            spec = None
        if spec and len(spec) >= 5:
            trigger, period_ms = struct.unpack("!BI", spec[:5])
            session.keepalive_s = period_ms / 1000 if trigger == 1 else 0.0

    def _add_rospec(self, session: Session, body: bytes) -> None:
        """Remember the ROSpec id and the report content the client asked for."""
        rospec = p.find_param(body, p.ROSPEC)
        if rospec is None:
            return
        session.rospec_id = struct.unpack("!I", rospec[:4])[0]
        report = p.find_param(rospec[6:], p.RO_REPORT_SPEC)
        if report is None:
            return
        selector = p.find_param(report[3:], p.TAG_REPORT_CONTENT_SELECTOR)
        if selector is None:
            return
        flags = struct.unpack("!H", selector[:2])[0]
        session.content = {name: bool(flags & (1 << (15 - i))) for i, name in enumerate(p.CONTENT_FLAGS)}

    # ---- output ------------------------------------------------------------------------
    def _send(self, session: Session, kind: int, body: bytes, reply_to: int | None = None) -> None:
        """Send one message (unless silenced)."""
        if reply_to is None:
            session.next_id += 1
        self._write(session, p.encode_message(kind, reply_to if reply_to is not None else session.next_id, body))

    def _write(self, session: Session, data: bytes) -> None:
        """Write bytes, split into fragments when that fault is on."""
        if self.silent:
            return
        if self.fragment or session.write_lock.locked():
            self._spawn(self._write_fragments(session, data))
        else:
            with contextlib.suppress(Exception):
                session.writer.write(data)

    async def _write_fragments(self, session: Session, data: bytes) -> None:
        """Dribble ``data`` out in small pieces, in order with the other messages."""
        size = self.fragment or len(data)
        async with session.write_lock:
            for start in range(0, len(data), size):
                with contextlib.suppress(Exception):
                    session.writer.write(data[start:start + size])
                    await session.writer.drain()
                await asyncio.sleep(0.001)

    def _tag_report(self, session: Session, reads: list[tuple[str, int, int]]) -> bytes:
        """RO_ACCESS_REPORT body with the fields the client's selector enabled."""
        c = session.content
        now_us = int(time.time() * 1e6)
        parts = []
        for epc, antenna, rssi in reads:
            fields = p.tv(p.EPC_96, bytes.fromhex(epc))
            if c["ROSpecID"]:
                fields += p.tv(p.ROSPEC_ID, session.rospec_id)
            if c["SpecIndex"]:
                fields += p.tv(p.SPEC_INDEX, 1)
            if c["InventoryParameterSpecID"]:
                fields += p.tv(p.INVENTORY_PARAMETER_SPEC_ID, 1)
            if c["AntennaID"]:
                fields += p.tv(p.ANTENNA_ID, antenna)
            if c["PeakRSSI"]:
                fields += p.tv(p.PEAK_RSSI, max(-128, min(127, rssi)))
            if c["ChannelIndex"]:
                fields += p.tv(p.CHANNEL_INDEX, 1)
            if c["FirstSeenTimestamp"]:
                fields += p.tv(p.FIRST_SEEN_UTC, now_us)
            if c["LastSeenTimestamp"]:
                fields += p.tv(p.LAST_SEEN_UTC, now_us)
            if c["TagSeenCount"]:
                fields += p.tv(p.TAG_SEEN_COUNT, 1)
            parts.append(p.tlv(p.TAG_REPORT_DATA, fields))
        return b"".join(parts)

    async def _report_loop(self, session: Session) -> None:
        """Report inventory rounds while the ROSpec is enabled."""
        while True:
            await asyncio.sleep(self.report_interval_s)
            if not session.inventorying or self.silent:
                continue
            antennas = list(range(1, self.antennas + 1))
            reads = self.population.reads(antennas, self.read_rate, self.cross_read)
            if self.tags_per_report:
                reads = reads[:self.tags_per_report]
            for start in range(0, len(reads), 500):  # keep each message well under 64 kB of parameters
                chunk = reads[start:start + 500]
                self._send(session, p.RO_ACCESS_REPORT, self._tag_report(session, chunk))
                self.stats.reports += 1
                self.stats.tag_reads += len(chunk)

    async def _keepalive_loop(self, session: Session) -> None:
        """KEEPALIVE at the client's requested period."""
        while True:
            await asyncio.sleep(session.keepalive_s or 1.0)
            if session.keepalive_s and not self.silent:
                self._send(session, p.KEEPALIVE, b"")
                self.stats.keepalives += 1

    async def _churn(self) -> None:
        """Random moves, sales and arrivals."""
        while True:
            await asyncio.sleep(self.churn_every_s)
            self.population.churn()


class ThreadedEmulator:
    """An emulator running on its own loop thread; ``call`` runs a fault method there."""

    def __init__(self, emulator: LLRPReaderEmulator) -> None:
        import threading

        self.emulator = emulator
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="llrp-emulator", daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(emulator.start(), self.loop).result(5)

    @property
    def port(self) -> int:
        """The bound TCP port."""
        return self.emulator.port

    def call(self, method: str, *args: object) -> None:
        """Run ``emulator.method(*args)`` (or set an attribute) on the emulator's loop and wait."""
        async def apply() -> None:
            """Apply on the loop."""
            target = getattr(self.emulator, method)
            if callable(target):
                target(*args)
            else:
                setattr(self.emulator, method, args[0])

        asyncio.run_coroutine_threadsafe(apply(), self.loop).result(5)

    def stop(self) -> None:
        """Stop serving and end the thread."""
        asyncio.run_coroutine_threadsafe(self.emulator.stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
