"""The daemon side of the audit: the feed of a device's spans, the report's check and save, the terminal's keys."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import stat
import termios
from pathlib import Path
from typing import Any

import msgspec

from gateway.audit.device_side import DeviceSide
from gateway.audit.feed import CrossingFeed
from gateway.audit.payload import audit_data
from gateway.audit.report import compare
from gateway.audit.store import commit_audit
from gateway.audit.terminal import key_reader
from gateway.events.envelope import rfc3339
from gateway.events.schemas import event_schema
from gateway.events.types.footfall import FootfallData
from gateway.pipelines import Event
from tests.support.paths import REPO_ROOT

T0 = 1_700_000_000.0


def test_feed_hands_footfall_spans_of_the_audited_device_only() -> None:
    feed = CrossingFeed()
    got: list[dict[str, Any]] = []
    leave = feed.subscribe("door-1", got.append)
    footfall = FootfallData(line="front", interval_start=rfc3339(T0), interval_s=1.0, in_=2, out=0,
                            source="serial_counter")
    feed.observe("door-2", Event("footfall", T0 + 1, footfall))
    feed.observe("door-1", Event("health", T0 + 1, footfall))
    feed.observe("door-1", Event("footfall", T0 + 1, footfall))
    leave()
    feed.observe("door-1", Event("footfall", T0 + 2, footfall))
    assert got == [{"line": "front", "from": T0, "to": T0 + 1, "in": 2, "out": 0}]
    side = DeviceSide()
    side.add(got[0])
    assert side.reported_until() == T0 + 1 and side.counts(T0, T0 + 5) == (2, 0)
    assert [(c.direction, c.t, c.until) for c in side.crossings()] == [("in", T0, T0 + 1)] * 2


def test_commit_audit_saves_0640_commits_and_refuses_bad_reports(tmp_path: Path) -> None:
    data = audit_data(compare([("in", T0 + 1)], [("in", T0 + 1.5)], 2.0, T0, T0 + 60), "door-1")
    committed: list[tuple[str, Event]] = []
    answer = commit_audit(msgspec.to_builtins(data), str(tmp_path), {"door-1"},
                          lambda s, e: committed.append((s, e)))
    path = Path(answer["saved"])
    assert path.parent == tmp_path / "audits" and path.name == "door-1-20231114T221320Z.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640 and json.loads(path.read_text())["in"]["matched"] == 1
    assert committed[0][0] == "door-1" and committed[0][1].type == "audit" and committed[0][1].time == T0 + 60
    assert "error" in commit_audit({"device": "door-1"}, str(tmp_path), {"door-1"}, lambda s, e: None)
    assert "no device" in commit_audit(msgspec.to_builtins(data), str(tmp_path), {"door-9"},
                                       lambda s, e: None)["error"]
    assert len(committed) == 1


def test_audit_schema_is_committed_up_to_date() -> None:
    committed = json.loads((REPO_ROOT / "docs" / "schemas" / "audit.json").read_text())
    assert committed == json.loads(json.dumps(event_schema("audit")))


async def test_keys_arrive_one_by_one_and_the_terminal_is_restored() -> None:
    master, slave = pty.openpty()
    try:
        before = termios.tcgetattr(slave)
        chunks: list[str] = []
        with key_reader(chunks.append, slave):
            assert not termios.tcgetattr(slave)[3] & termios.ICANON
            os.write(master, b"i")  # no Enter
            for _ in range(200):
                if chunks:
                    break
                await asyncio.sleep(0.01)
        assert chunks == ["i"] and termios.tcgetattr(slave) == before
    finally:
        os.close(master)
        os.close(slave)
