"""`storegw fleet simulate` against a real mosquitto: births, wills, contiguous sequences, replays, a broker restart."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from tests.support.broker import Mosquitto
from tests.support.paths import REPO_ROOT
from tests.support.peers import Subscriber, validate_event, wait_for

GATEWAYS = 20
PREFIX = "storegw/v1"


def simulate(broker: Mosquitto, progress: Path, *extra: str) -> subprocess.Popen[str]:
    """`storegw fleet simulate` with 20 gateways at 4 events/s each, as a subprocess; its progress lines to a file."""
    with progress.open("w") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "gateway.cli.main", "fleet", "simulate", "--gateways", str(GATEWAYS), "--rate", "4",
             "--broker", broker.url, "--health-s", "2", "--report-s", "1", "--reconnect-max-s", "2", "--json", *extra],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=handle, text=True)


def store(n: int) -> str:
    """The store id of simulated gateway number n (from 1)."""
    return f"sim-store-{n:04d}"


def by_source(sub: Subscriber) -> dict[str, list[dict[str, Any]]]:
    """Every event received, grouped by gateway (CloudEvents source)."""
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in sub.events():
        grouped[event["source"]].append(event)
    return grouped


def states(sub: Subscriber, n: int) -> list[dict[str, Any]]:
    """The `.../state` messages of gateway n, in arrival order."""
    return [json.loads(p) for p in sub.on_topic(f"/{store(n)}/gw1/state")]


def retained_states(port: int) -> dict[str, dict[str, Any]]:
    """The retained `.../state` of every gateway, read by a fresh subscriber."""
    fresh = Subscriber(port, f"{PREFIX}/+/+/state")
    try:
        wait_for(lambda: len(fresh.messages) >= GATEWAYS, 10, "every gateway's retained state")
        with fresh.lock:
            return {t: json.loads(p) for t, p, retained in fresh.messages if retained}
    finally:
        fresh.close()


def answers(sub: Subscriber, n: int, request_id: str) -> list[dict[str, Any]]:
    """The cmd/replay answers of gateway n to ``request_id``."""
    found = [json.loads(p) for p in sub.on_topic(f"/{store(n)}/gw1/cmd-res/replay")]
    return [a for a in found if a.get("request_id") == request_id]


def missing(events: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """Ranges of 1..highest that did not arrive."""
    seqs = sorted({int(e["sequence"]) for e in events})
    gaps, expected = [], 1
    for seq in seqs:
        if seq > expected:
            gaps.append((expected, seq - 1))
        expected = seq + 1
    return gaps


def assert_no_number_reused(events: list[dict[str, Any]]) -> None:
    """A sequence number always carries the same event (resends and replays are copies, never new events)."""
    ids: dict[str, set[str]] = defaultdict(set)
    for event in events:
        ids[event["sequence"]].add(event["id"])
    assert all(len(v) == 1 for v in ids.values()), {k: v for k, v in ids.items() if len(v) > 1}


def test_twenty_gateways_births_contiguous_valid_events_and_a_replay_answered_from_history(
        mosquitto: Mosquitto, tmp_path: Path) -> None:
    sub = Subscriber(mosquitto.port, f"{PREFIX}/#")
    process = simulate(mosquitto, tmp_path / "progress", "--seconds", "8")
    try:
        wait_for(lambda: len(by_source(sub)) == GATEWAYS and all(
            len(v) >= 8 for v in by_source(sub).values()), 30, "events from every gateway")
        sub.publish(f"{PREFIX}/{store(3)}/gw1/cmd/replay",
                    json.dumps({"request_id": "r1", "from_seq": 2, "to_seq": 6}).encode())
        answer = wait_for(lambda: answers(sub, 3, "r1"), 15, "the replay answer")[0]
        stdout, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    sub_events = by_source(sub)
    sub.close()
    assert process.returncode == 0, (tmp_path / "progress").read_text()
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["ever_connected"] == GATEWAYS and summary["pending"] == 0 and summary["dropped"] == 0

    assert answer["ok"] is True and answer["replayed"] == 5 and answer["missing"] == []
    replayed = [e for e in sub_events[f"/stores/{store(3)}/gateways/gw1"] if 2 <= int(e["sequence"]) <= 6]
    assert len(replayed) == 10  # the originals and one copy each
    assert {e["sequence"]: e["id"] for e in replayed[:5]} == {e["sequence"]: e["id"] for e in replayed[5:]}

    assert len(sub_events) == GATEWAYS
    highest = 0
    for source, events in sub_events.items():
        for event in events:
            validate_event(event)
        assert missing(events) == [], source
        assert len({e["gwboot"] for e in events}) == 1
        assert_no_number_reused(events)
        assert {e["type"] for e in events} == {"storegw.synthetic.v1", "storegw.health.v1"}
        highest += max(int(e["sequence"]) for e in events)
    assert highest == summary["events"]  # every number the simulator issued arrived

    for n in range(1, GATEWAYS + 1):
        assert states(sub, n)[0]["online"] is True  # the birth
    retained = retained_states(mosquitto.port)
    assert len(retained) == GATEWAYS
    assert all(s["online"] is False and s["reason"] == "simulation ended" for s in retained.values())


def test_a_broker_restart_makes_every_gateway_reconnect_and_continue_without_reusing_a_number(
        mosquitto: Mosquitto, tmp_path: Path) -> None:
    sub = Subscriber(mosquitto.port, f"{PREFIX}/#")
    progress = tmp_path / "progress"
    process = simulate(mosquitto, progress)
    try:
        wait_for(lambda: len(by_source(sub)) == GATEWAYS and all(
            len(v) >= 6 for v in by_source(sub).values()), 30, "events from every gateway")
        before = {s: max(int(e["sequence"]) for e in v) for s, v in by_source(sub).items()}
        mosquitto.stop()
        time.sleep(1.5)  # events go on being numbered while the broker is away
        mosquitto.start()
        wait_for(lambda: all(sum(s["online"] for s in states(sub, n)) >= 2 for n in range(1, GATEWAYS + 1)),
                 30, "a second birth from every gateway")
        wait_for(lambda: all(max(int(e["sequence"]) for e in v) > before[s] + 8 for s, v in by_source(sub).items()),
                 30, "events numbered after the restart")
        # what the subscriber missed while it reconnected itself is asked for again, as a backend would
        for n in range(1, GATEWAYS + 1):
            for lo, hi in missing(by_source(sub)[f"/stores/{store(n)}/gateways/gw1"]):
                sub.publish(f"{PREFIX}/{store(n)}/gw1/cmd/replay",
                            json.dumps({"request_id": f"gap-{lo}", "from_seq": lo, "to_seq": hi}).encode())
        wait_for(lambda: all(missing(v) == [] for v in by_source(sub).values()), 30, "every gap replayed")
        # the simulator's own figure: every gateway back, and when
        wait_for(lambda: "last reconnect wave: 20 gateways back" in progress.read_text(), 15, "the wave's figures")
        process.send_signal(signal.SIGKILL)  # the broker must now publish every gateway's will
        process.wait(10)
        retained = retained_states(mosquitto.port)
    finally:
        if process.poll() is None:
            process.kill()
    events = by_source(sub)
    sub.close()
    for source, received in events.items():
        assert_no_number_reused(received)
        assert len({e["gwboot"] for e in received}) == 1, source
        for event in received:
            validate_event(event)
    assert len(retained) == GATEWAYS
    assert all(s["online"] is False and s["reason"] == "connection lost" for s in retained.values()), retained
