"""`storegw verify` finds gaps the way a backend would, and fills them with cmd/replay."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from gateway.cli.outbox import read_stats
from gateway.cli.verify import wait_for_replay
from gateway.consumer import ReplayWait, StreamCheck, ranges
from tests.support.broker import Mosquitto
from tests.support.peers import ROOT, Daemon, wait_for, write_config


def test_stream_check_counts_duplicates_and_gaps() -> None:
    check = StreamCheck()
    for seq, event_id in ((1, "a"), (2, "b"), (2, "b"), (5, "e"), (6, "f")):
        check.add({"id": event_id, "sequence": f"{seq:020d}", "gwboot": 1, "type": "storegw.synthetic.v1"})
    assert (check.events, check.duplicates) == (5, 1)
    assert check.gaps() == [[3, 4]] and check.gaps(since=0) == [[0, 0], [3, 4]]
    assert ranges([1, 2, 3, 7, 9, 10]) == [[1, 3], [7, 7], [9, 10]]


def test_verify_requests_replay_for_events_published_before_it_listened(tmp_path: Path,
                                                                      mosquitto: Mosquitto) -> None:
    config = write_config(tmp_path / "c.toml", port=mosquitto.port, data_dir=tmp_path / "data",
                          devices='[[devices]]\nid = "load"\nkind = "synthetic"\nrate = 50\n')
    daemon = Daemon(config).start()
    try:
        wait_for(lambda: (tmp_path / "data" / "outbox.db").exists()
                 and read_stats(str(tmp_path / "data" / "outbox.db"))["last_seq"] > 100, what="events")
        time.sleep(0.5)
        result = subprocess.run([sys.executable, "-m", "gateway.cli.main", "verify", "--broker",
                                 f"mqtt://127.0.0.1:{mosquitto.port}", "--store", "store-t", "--gateway", "gw-t",
                                 "--seconds", "2", "--since", "1", "--replay", "--json"],
                                capture_output=True, text=True, cwd=ROOT, timeout=60)
    finally:
        daemon.terminate()
    report = json.loads(result.stdout)
    assert report["replay_requested"] and report["replay_requested"][0][0] == 1, report
    assert report["replay_answers"] and report["replay_answers"][0]["ok"] is True
    assert report["gaps"] == [] and result.returncode == 0, report
    assert report["first_seq"] == 1 and report["types"]["synthetic"] > 100


class FakeClock:
    """A clock that moves only when the waiter sleeps; ``on_sleep`` plays what arrives meanwhile."""

    def __init__(self, on_sleep: Any) -> None:
        self.now = 0.0
        self.on_sleep = on_sleep

    def time(self) -> float:
        """Now."""
        return self.now

    def sleep(self, seconds: float) -> None:
        """Let time pass, then deliver what the scenario sends by then."""
        self.now += seconds
        self.on_sleep(self.now)


def event(seq: int) -> dict[str, Any]:
    """A minimal event with sequence ``seq``."""
    return {"id": f"e{seq}", "sequence": f"{seq:020d}", "gwboot": 1, "type": "storegw.synthetic.v1"}


def test_verify_waits_as_long_as_replayed_events_keep_arriving() -> None:
    check, wait = StreamCheck(), ReplayWait()
    wait.ask("verify-1", 1, 40)
    due = iter(range(1, 41))  # one replayed event every 5 s: 200 s in all, far beyond the old 10 s

    def deliver(now: float) -> None:
        """One event per 5 s of fake time, interleaved with live ones."""
        while now >= 5 * len(check.sequences & set(range(1, 41))) + 5:
            seq = next(due, None)
            if seq is None:
                return
            check.add(event(seq))
            check.add(event(1000 + seq))

    clock = FakeClock(deliver)
    outstanding, waited = wait_for_replay(wait, check, threading.Lock(), idle_timeout=10, clock=clock.time,
                                          sleep=clock.sleep)
    assert outstanding == [] and waited >= 200
    assert check.gaps(since=1) == [[41, 1000]]  # only the live stream's own numbers are left (not requested)


def test_verify_gives_up_after_the_idle_time_and_says_what_is_missing() -> None:
    check, wait = StreamCheck(), ReplayWait()
    wait.ask("verify-1", 1, 10)
    wait.ask("verify-20", 20, 29)

    def deliver(now: float) -> None:
        """Half of the first range, then nothing but live events (which are no progress)."""
        if now < 3:
            for seq in range(1, 6):
                check.add(event(seq))
        check.add(event(int(now * 100) + 1000))

    clock = FakeClock(deliver)
    outstanding, waited = wait_for_replay(wait, check, threading.Lock(), idle_timeout=30, clock=clock.time,
                                          sleep=clock.sleep)
    assert outstanding == [[6, 10], [20, 29]]
    assert 30 <= waited < 31


def test_numbers_the_answer_calls_missing_or_a_refused_request_are_not_waited_for() -> None:
    check, wait = StreamCheck(), ReplayWait()
    wait.ask("verify-1", 1, 10)
    wait.ask("verify-50", 50, 60)
    assert not wait.answer({"ok": True, "request_id": "someone-else", "missing": [[1, 10]]})
    assert not wait.answer(["not", "a", "dict"])
    assert wait.answer({"ok": True, "request_id": "verify-1", "replayed": 7, "missing": [[1, 3], [0, 10**12]]})
    for seq in range(4, 9):
        check.add(event(seq))
    assert wait.status(check.sequences)[0] == [[50, 60]]
    assert wait.answer({"ok": False, "request_id": "verify-50", "error": "at most 100000 events per replay"})
    assert wait.status(check.sequences)[0] == []


class FakeGateway:
    """A gateway on the broker: a live stream from seq 101, and a replay that takes its time."""

    def __init__(self, port: int, base: str, batches: int = 15, pause_s: float = 0.4, answer: bool = True) -> None:
        self.base, self.batches, self.pause_s, self.answer = base, batches, pause_s, answer
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"fake-gw-{os.getpid()}",
                                  protocol=paho.MQTTv5)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(f"{base}/cmd/replay", qos=1)
        self.client.connect("127.0.0.1", port, 30)
        self.client.loop_start()
        self.stop = threading.Event()
        self.requests: list[dict[str, Any]] = []
        self.live = threading.Thread(target=self._live, daemon=True)
        self.live.start()

    def _send(self, seq: int) -> None:
        """Publish one event."""
        self.client.publish(f"{self.base}/synthetic", json.dumps(event(seq)), qos=1)

    def _live(self) -> None:
        """Five live events a second."""
        seq = 101
        while not self.stop.wait(0.2):
            self._send(seq)
            seq += 1

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        """Answer a replay at once, then send it in batches, a pause between them."""
        request = json.loads(message.payload)
        self.requests.append(request)
        if self.answer:
            threading.Thread(target=self._replay, args=(request,), daemon=True).start()

    def _replay(self, request: dict[str, Any]) -> None:
        """The slow replay (paged from disk, a busy link...)."""
        first, last = int(request["from_seq"]), int(request["to_seq"])
        self.client.publish(f"{self.base}/cmd-res/replay", json.dumps(
            {"ok": True, "request_id": request["request_id"], "replayed": last - first + 1, "missing": []}), qos=1)
        numbers = list(range(first, last + 1))
        size = max(1, -(-len(numbers) // self.batches))
        for start in range(0, len(numbers), size):
            if self.stop.wait(self.pause_s):
                return
            for seq in numbers[start:start + size]:
                self._send(seq)

    def close(self) -> None:
        """Stop publishing and disconnect."""
        self.stop.set()
        self.client.disconnect()
        self.client.loop_stop()


def run_verify(port: int, *extra: str) -> subprocess.CompletedProcess[str]:
    """`storegw verify --since 1 --replay` against the fake gateway."""
    return subprocess.run([sys.executable, "-m", "gateway.cli.main", "verify", "--broker", f"mqtt://127.0.0.1:{port}",
                           "--store", "s", "--gateway", "g", "--seconds", "2", "--since", "1", "--replay", *extra],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_verify_waits_for_a_replay_slower_than_its_listening_time(mosquitto: Mosquitto) -> None:
    gateway = FakeGateway(mosquitto.port, "storegw/v1/s/g")  # 15 batches 0.4 s apart: 6 s, three times --seconds
    try:
        result = run_verify(mosquitto.port, "--idle-timeout", "5", "--json")
    finally:
        gateway.close()
    report = json.loads(result.stdout)
    assert gateway.requests and report["replay_requested"][0][0] == 1, report
    assert report["gaps"] == [] and report["replay_outstanding"] == [] and result.returncode == 0, report
    assert report["replay_answers"][0]["ok"] is True


def test_verify_gives_up_on_a_silent_gateway_and_names_the_missing_numbers(mosquitto: Mosquitto) -> None:
    gateway = FakeGateway(mosquitto.port, "storegw/v1/s/g", answer=False)
    try:
        result = run_verify(mosquitto.port, "--idle-timeout", "1")
    finally:
        gateway.close()
    assert result.returncode == 1
    assert "replay: gave up after 1 s without a replayed event or an answer" in result.stdout, result.stdout
    assert "still missing: 1-" in result.stdout


def test_gaps_come_from_holes_and_leave_out_what_the_gateway_never_issued() -> None:
    """A clock-floor jump of 10^12 declared by a sequence-gap event is no gap, and costs nothing to compute."""
    check = StreamCheck()
    jump = 1_200_000_000_000
    for n in (1, 2, 4):
        check.add({"id": f"a{n}", "sequence": f"{n:020d}", "gwboot": 1, "type": "storegw.footfall.v1"})
    check.add({"id": "g", "sequence": f"{jump + 1:020d}", "gwboot": 2, "type": "storegw.sequence-gap.v1",
               "data": {"from_seq": 5, "to_seq": jump, "reason": "clock-floor"}})
    check.add({"id": "b", "sequence": f"{jump + 3:020d}", "gwboot": 2, "type": "storegw.footfall.v1"})
    assert check.gaps() == [[3, 3], [jump + 2, jump + 2]]
    assert check.never_issued == [[5, jump]]


def test_large_gaps_are_asked_in_parts_the_gateway_accepts_within_a_budget() -> None:
    """250,000 missing numbers are three requests of at most 100,000; the budget caps the total."""
    from gateway.cli.verify import replay_requests

    assert replay_requests([[1, 250_000]], 1_000_000) == [[1, 100_000], [100_001, 200_000], [200_001, 250_000]]
    assert replay_requests([[1, 10], [20, 300_000]], 150_000) == [[1, 10], [20, 100_019], [100_020, 150_009]]


def test_replay_answers_separate_pruned_from_never_issued() -> None:
    """Numbers an answer lists as pruned or never issued are not waited for; each list is kept apart."""
    wait = ReplayWait()
    wait.ask("r", 10, 30)
    wait.answer({"request_id": "r", "ok": True, "replayed": 5, "pruned": [[10, 14]], "never_issued": [[20, 30]],
                 "missing": [[10, 14], [20, 30]]})
    outstanding, _ = wait.status(received=set(range(15, 19)))
    assert outstanding == [[19, 19]]
    assert wait.declared("pruned") == [[10, 14]] and wait.declared("never_issued") == [[20, 30]]
