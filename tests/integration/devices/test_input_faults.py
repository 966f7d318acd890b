"""Bad inputs: absurd BLE recordings, peers that do not speak LLRP, an LLRP header claiming 4 GiB.

Each would once eat memory, spin or mislead ("0 reads"); each must now end with a bounded result
or one clear sentence. Subprocesses run under a memory limit, so a regression fails instead of
taking the machine down. (Camera sources that fail: tests/integration/devices/test_camera_snapshot.py.)
"""

from __future__ import annotations

import asyncio
import json
import resource
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from drivers.sim.ble_scene import generate
from tests.support.peers import ROOT

MEMORY_LIMIT = 1 << 30


def limit_memory() -> None:
    """Cap the child's address space (a runaway allocation fails fast instead of swapping)."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the storegw CLI under the memory cap."""
    return subprocess.run([sys.executable, "-m", "gateway.cli.main", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout, preexec_fn=limit_memory)


# ---- ble replay --------------------------------------------------------------------------------

def test_ble_replay_skips_absurd_timestamps_and_stays_bounded(tmp_path: Path) -> None:
    scene = generate(minutes=2, visitors=3, passers_by=1, members=0, seed=4, max_gap_s=2)
    recording = tmp_path / "scene.jsonl"
    scene.write(str(recording))
    absurd = ['{"t": 1e300, "address": "AA:00:00:00:00:01", "rssi": -60}',
              '{"t": NaN, "address": "AA:00:00:00:00:02", "rssi": -60}',
              '{"t": Infinity, "address": "AA:00:00:00:00:03", "rssi": -60}',
              '{"t": 4102444800.5, "address": "AA:00:00:00:00:04", "rssi": -60}',  # 2100-01-01
              '{"t": -5, "address": "AA:00:00:00:00:05", "rssi": -60}',
              '{"t": 1' + "0" * 400 + ', "address": "AA:00:00:00:00:06", "rssi": -60}']
    late = '{"t": 4102444000, "address": "AA:00:00:00:00:07", "rssi": -60}'  # 2099-12-31: odd but a time
    with recording.open("a") as handle:
        handle.write("\n".join([*absurd, late]) + "\n")
    result = cli("ble", "replay", str(recording), "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    document = json.loads(result.stdout)
    assert document["summary"]["garbage_lines"] == len(absurd)
    assert document["summary"]["adverts"] == len(scene.adverts) + 1
    visitors = [e for e in document["events"] if e["type"] == "visitors"]
    # the scene's own one or two intervals, the one that had data when the clock jumped, the last one
    assert 1 <= len(visitors) <= 4, len(visitors)
    assert len(document["events"]) < 100
    human = cli("ble", "replay", str(recording))
    assert human.returncode == 0 and f"{len(absurd)} lines skipped" in human.stdout


# ---- peers that do not speak LLRP -----------------------------------------------------------------

class FaultyPeer:
    """A TCP server on a free loopback port that treats every connection with ``behave``."""

    def __init__(self, behave: Callable[[socket.socket], None]) -> None:
        self.behave = behave
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.server.getsockname()[1])
        self.connections = 0
        self.closed_by_client = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> FaultyPeer:
        """Accept connections on a thread."""
        self._thread.start()
        return self

    def _serve(self) -> None:
        """Accept until the server socket is closed."""
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        """Run the behaviour; note when the client hung up on us."""
        with conn:
            try:
                self.behave(conn)
            except OSError:
                self.closed_by_client += 1

    def stop(self) -> None:
        """Stop accepting."""
        self.server.close()


def wait_for_close(conn: socket.socket) -> None:
    """Keep the connection open until the client closes it (counted as closed by the client)."""
    conn.settimeout(60)
    while conn.recv(4096):
        pass
    raise ConnectionResetError("the client closed the connection")


def send_garbage(conn: socket.socket) -> None:
    """Answer like a web server: bytes that are not LLRP."""
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    wait_for_close(conn)


def close_at_once(conn: socket.socket) -> None:
    """Accept and hang up."""


def stay_silent(conn: socket.socket) -> None:
    """Accept and say nothing."""
    wait_for_close(conn)


def huge_header(conn: socket.socket) -> None:
    """A READER_EVENT_NOTIFICATION header (LLRP 1.0.1) claiming 4 GiB, then bytes as fast as they go."""
    conn.sendall(struct.pack("!HII", (1 << 10) | 63, 0xFFFFFFFF, 1))
    chunk = bytes(64 * 1024)
    for _ in range(128):  # 8 MiB at most: enough to make sllurp buffer and re-copy, not enough to hurt
        conn.sendall(chunk)
    wait_for_close(conn)


@pytest.fixture
def peer(request: pytest.FixtureRequest) -> Iterator[FaultyPeer]:
    """A faulty peer with the behaviour named by the test's parameter."""
    server = FaultyPeer(request.param).start()
    yield server
    server.stop()


@pytest.mark.parametrize(("peer", "what"), [(send_garbage, "which is not an LLRP message header"),
                                            (close_at_once, "then closed it without sending one LLRP message"),
                                            (stay_silent, "then stayed silent without sending one LLRP message")],
                         indirect=["peer"], ids=["garbage", "closes-at-once", "silent"])
def test_rfid_inventory_fails_in_one_sentence_when_the_peer_does_not_speak_llrp(peer: FaultyPeer, what: str) -> None:
    result = cli("rfid", "inventory", "--reader", f"127.0.0.1:{peer.port}", "--duration", "2", "--json")
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stdout == "", "no JSON document claiming 0 reads"
    message = result.stderr.strip()
    assert f"the peer at 127.0.0.1:{peer.port} does not speak LLRP" in message and what in message, message
    assert "\n" not in message and "Traceback" not in message
    assert peer.connections >= 1


@pytest.mark.parametrize("peer", [huge_header], indirect=True, ids=["4GiB-header"])
async def test_an_llrp_header_claiming_4_gib_is_a_protocol_error_then_a_reconnect(peer: FaultyPeer) -> None:
    from drivers.base import Backoff, DriverState
    from drivers.llrp import LLRPDriver

    driver = LLRPDriver("reader", host="127.0.0.1", port=peer.port, silence_timeout_s=60,
                        backoff=Backoff(initial=0.05, maximum=0.2))
    task = asyncio.create_task(driver.run(lambda reads: None))
    try:
        for _ in range(600):  # a generous 30 s; the error comes at the first header
            if driver.stats.errors.get("protocol", 0) >= 2 and peer.closed_by_client >= 2:
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        driver.shutdown()
    assert driver.stats.errors.get("protocol", 0) >= 2, driver.stats.errors
    assert peer.closed_by_client >= 2, "the driver must drop the connection, not wait for 4 GiB"
    assert peer.connections >= 2 and driver.stats.reconnects >= 1, "and connect again after the backoff"
    assert "claiming 4294967295 bytes, over the limit" in (driver.stats.last_error or "")
    assert driver.stats.state == DriverState.STOPPED and not driver.reads_total


def test_the_llrp_framer_passes_whole_messages_and_refuses_bad_headers() -> None:
    from drivers.llrp.framing import FrameError, LLRPFramer

    keepalive = struct.pack("!HII", (1 << 10) | 62, 10, 7)
    framer = LLRPFramer(max_message_bytes=64)
    stream = keepalive + struct.pack("!HII", (1 << 10) | 61, 14, 8) + b"abcd" + keepalive
    got = [m for i in range(0, len(stream), 3) for m in framer.feed(stream[i:i + 3])]
    assert got == [keepalive, stream[10:24], keepalive] and framer.messages == 3
    for bad in (struct.pack("!HII", (1 << 10) | 61, 65, 1), struct.pack("!HII", (1 << 10) | 61, 9, 1),
                struct.pack("!HII", (7 << 10) | 61, 10, 1), b"GET / HTTP/1.1\r\n"):
        with pytest.raises(FrameError):
            LLRPFramer(max_message_bytes=64).feed(bad)
