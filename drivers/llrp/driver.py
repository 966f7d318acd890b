"""One LLRP reader through sllurp: its own client thread, silence detection, fast reconnects.

sllurp runs a thread per client and calls our callback there (swallowing exceptions), so the
callback only stamps the gateway's receive time and posts the reads to the loop. sllurp never
notices a reader that goes silent, and reconnects only after a clean close, 60 s apart: we
watch the age of the last KEEPALIVE or report ourselves, ``hard_disconnect()`` a silent client
and build a new one (reusing one after a hard disconnect stalls) after a jittered backoff.

Bytes from the socket pass :class:`~drivers.llrp.framing.LLRPFramer` before sllurp parses them:
a header that is not LLRP, or that claims more than ``max_message_bytes``, is a protocol error
(counted as ``protocol``), the connection is dropped and a new one is made after the backoff.
The driver also notes how far each connection got (TCP, an LLRP message, the inventory
running), so a one-shot user can say in one sentence why a peer gave no reads
(:meth:`LLRPDriver.diagnosis`).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from drivers.base import Backoff, Driver, DriverState, DriverStats
from drivers.llrp.framing import MAX_MESSAGE_BYTES, FrameError, LLRPFramer

# Fields we always need, whatever else is configured (sllurp's defaults leave them off).
REQUIRED_CONTENT = {"EnableAntennaID": True, "EnablePeakRSSI": True, "EnableFirstSeenTimestamp": True,
                    "EnableLastSeenTimestamp": True, "EnableTagSeenCount": True}


@dataclass(slots=True, frozen=True)
class TagRead:
    """One tag report entry, timed by the gateway's clock (readers' clocks are often wrong)."""

    epc: str
    antenna: int
    rssi: int | None
    seen_count: int
    time: float


def parse_tag(tag: dict[str, Any], received: float) -> TagRead | None:
    """A TagRead from sllurp's dict, or None if it has no EPC."""
    epc = tag.get("EPC") or tag.get("EPC-96")
    if epc is None:
        return None
    if isinstance(epc, (bytes, bytearray)):
        epc = epc.decode("ascii", "replace")
    rssi = tag.get("PeakRSSI")
    return TagRead(str(epc).upper(), int(tag.get("AntennaID") or 0), None if rssi is None else int(rssi),
                   int(tag.get("TagSeenCount") or 1), received)


@functools.cache
def guarded_client_class() -> type:
    """sllurp's LLRPReaderClient with the framer in front of its parser (sllurp imported on first use)."""
    from sllurp.llrp import LLRPReaderClient

    class GuardedReaderClient(LLRPReaderClient):  # type: ignore[misc]
        """An LLRPReaderClient that only ever parses whole, plausible LLRP messages."""

        def __init__(self, *args: Any, on_protocol_error: Callable[[str], None],
                     max_message_bytes: int = MAX_MESSAGE_BYTES, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.framer = LLRPFramer(max_message_bytes)
            self._on_protocol_error = on_protocol_error

        def raw_data_received(self, data: bytes) -> None:
            """Frame what the socket gave (sllurp's thread); a bad header drops the connection."""
            try:
                messages = self.framer.feed(data)
            except FrameError as exc:
                self._on_protocol_error(str(exc))
                self.hard_disconnect()  # sllurp's main loop sees the stop flag and ends
                return
            for message in messages:
                super().raw_data_received(message)

    return GuardedReaderClient


class LLRPDriver(Driver[list[TagRead]]):
    """Inventories one reader until cancelled; hands batches of reads to the sink."""

    kind = "llrp"

    def __init__(self, device_id: str, *, host: str, port: int = 5084, reader_config: dict[str, Any] | None = None,
                 silence_timeout_s: float = 10.0, connect_timeout_s: float = 5.0,
                 max_message_bytes: int = MAX_MESSAGE_BYTES, backoff: Backoff | None = None,
                 stats: DriverStats | None = None) -> None:
        super().__init__(device_id, stats=stats, backoff=backoff or Backoff(initial=1.0, maximum=30.0))
        self.host = host
        self.port = port
        self.reader_config = dict(reader_config or {})
        self.silence_timeout_s = silence_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.max_message_bytes = max_message_bytes
        self.last_activity = time.monotonic()
        self.reads_total = 0
        self.connections = 0
        """TCP connections made."""
        self.messages_received = 0
        """Whole LLRP messages received, over every finished connection."""
        self.handshakes = 0
        """Connections on which the reader accepted the configuration and started the inventory."""
        self.last_protocol_error: str | None = None
        self._client: Any = None
        self._ready = False
        self._protocol_error: str | None = None

    def sllurp_config(self) -> Any:
        """LLRPReaderConfig from our validated settings, with the fields we rely on switched on."""
        from sllurp.llrp import LLRPReaderConfig

        settings = dict(self.reader_config)
        content = dict(settings.pop("tag_content_selector", {}))
        content.update(REQUIRED_CONTENT)
        settings["tag_content_selector"] = {**{
            "EnableROSpecID": False, "EnableSpecIndex": False, "EnableInventoryParameterSpecID": False,
            "EnableChannelIndex": False, "EnableAccessSpecID": False}, **content}
        settings.setdefault("report_every_n_tags", 200)  # without it a reader may withhold reports (sllurp #136)
        settings.setdefault("report_timeout_ms", 500)
        settings.setdefault("keepalive_interval", max(1000, int(self.silence_timeout_s * 1000 / 3)))
        settings["reconnect"] = False  # we reconnect, faster and with jitter
        return LLRPReaderConfig(settings)

    async def run(self, sink: Callable[[list[TagRead]], None]) -> None:
        """Connect, watch, reconnect; forever."""
        loop = asyncio.get_running_loop()
        first = True
        while not self.closed:
            lost = asyncio.Event()
            self._ready = False
            self._protocol_error = None
            client = self._new_client(loop, sink, lost)
            self.stats.state = DriverState.RECONNECTING if not first else DriverState.STARTING
            try:
                async with asyncio.timeout(self.connect_timeout_s):
                    await loop.run_in_executor(None, client.connect)
            except Exception as exc:
                self._hard_disconnect(client)
                await self.retry_later("connect", f"cannot connect to {self.host}:{self.port} "
                                                  f"({type(exc).__name__}: {exc})")
                continue
            self.connections += 1
            self._client = client
            self.last_activity = time.monotonic()
            self.link_up(reconnected=not first)
            first = False
            try:
                why = await self._watch(lost)
            finally:
                self.messages_received += client.framer.messages  # also when cancelled: diagnosis() needs it
            self._hard_disconnect(client)
            self._client = None
            if self.closed:
                break
            if self._protocol_error is not None:
                kind = "protocol"
                why = f"the peer at {self.host}:{self.port} does not speak LLRP: {self._protocol_error}"
            else:
                kind = "silent" if "silent" in why else "disconnected"
            await self.retry_later(kind, why, then="; reconnecting")

    def _new_client(self, loop: asyncio.AbstractEventLoop, sink: Callable[[list[TagRead]], None],
                    lost: asyncio.Event) -> Any:
        """A fresh (guarded) sllurp client whose callbacks only post to the loop."""
        from sllurp.llrp import LLRPReaderState

        def on_protocol_error(message: str) -> None:
            """The peer sent something that is not LLRP (sllurp's thread)."""
            loop.call_soon_threadsafe(self._protocol_failure, message, lost)

        client = guarded_client_class()(self.host, self.port, self.sllurp_config(), timeout=self.connect_timeout_s,
                                        on_protocol_error=on_protocol_error,
                                        max_message_bytes=self.max_message_bytes)

        def deliver(reads: list[TagRead]) -> None:
            """Hand readings to the sink (loop thread)."""
            self.last_activity = time.monotonic()
            if reads:
                self.reads_total += len(reads)
                self.stats.mark_reading(len(reads))
                sink(reads)

        def on_tags(_reader: Any, tags: list[dict[str, Any]]) -> None:
            """Stamp and post tag reports (sllurp's thread: nothing else here)."""
            received = time.time()
            reads = [r for r in (parse_tag(t, received) for t in tags) if r is not None]
            loop.call_soon_threadsafe(deliver, reads)

        def on_activity(_reader: Any, _message: Any) -> None:
            """Note that the reader spoke (sllurp's thread)."""
            loop.call_soon_threadsafe(self._touch)

        def on_disconnected(*_args: Any) -> None:
            """Tell the loop the connection is gone (sllurp's thread)."""
            loop.call_soon_threadsafe(lost.set)

        def on_inventorying(*_args: Any) -> None:
            """The reader took the configuration and runs the inventory (sllurp's thread)."""
            loop.call_soon_threadsafe(self._handshake_done)

        client.add_tag_report_callback(on_tags)
        client.add_message_callback("KEEPALIVE", on_activity)
        client.add_message_callback("RO_ACCESS_REPORT", on_activity)
        client.add_disconnected_callback(on_disconnected)
        client.add_state_callback(LLRPReaderState.STATE_INVENTORYING, on_inventorying)
        return client

    def _touch(self) -> None:
        """The reader said something."""
        self.last_activity = time.monotonic()

    def _handshake_done(self) -> None:
        """The current connection completed the LLRP handshake (loop thread)."""
        if not self._ready:
            self._ready = True
            self.handshakes += 1
        self._touch()

    def _protocol_failure(self, message: str, lost: asyncio.Event) -> None:
        """Note a framing error and end the connection (loop thread)."""
        self._protocol_error = message
        self.last_protocol_error = message
        lost.set()

    def diagnosis(self) -> str | None:
        """Why no inventory ever ran, as one clause naming the peer; None once a handshake completed."""
        peer = f"{self.host}:{self.port}"
        if self.handshakes:
            return None
        messages = self.messages_received
        if not self.connections:
            return self.stats.last_error or f"cannot connect to {peer}"
        if self.last_protocol_error is not None:
            return f"the peer at {peer} does not speak LLRP: {self.last_protocol_error}"
        if not messages:
            how = "closed it" if self.stats.errors.get("disconnected") else "stayed silent"
            return f"the peer at {peer} does not speak LLRP: it accepted the connection, then {how} " \
                   "without sending one LLRP message"
        return (f"the peer at {peer} answered in LLRP but never completed the handshake: "
                f"{self.stats.last_error or 'the inventory was not started'}")

    async def _watch(self, lost: asyncio.Event) -> str:
        """Return why the connection must be replaced."""
        while not self.closed:
            try:
                async with asyncio.timeout(0.5):
                    await lost.wait()
                return "the reader closed the connection"
            except TimeoutError:
                pass
            client = self._client
            if client is not None and not client.is_alive():
                return "the sllurp client thread ended"
            silent = time.monotonic() - self.last_activity
            if silent > self.silence_timeout_s:
                return f"reader silent for {silent:.1f} s (no keepalive, no report)"
            if self._ready and silent < self.silence_timeout_s / 2:
                self.backoff.reset()  # only a working reader earns a fast reconnect next time
        return "stopped"

    @staticmethod
    def _hard_disconnect(client: Any) -> None:
        """Drop a client without the polite stop (which a silent reader never answers)."""
        try:
            client.hard_disconnect()
        except Exception:
            pass

    def _shutdown(self) -> None:
        """Close the current client."""
        if self._client is not None:
            self._hard_disconnect(self._client)
            self._client = None
