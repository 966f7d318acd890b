"""The live view (`storegw top`, `storegw demo` on a terminal): its model, its rendering, and both verbs for real."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from gateway.cli.liveview.describe import describe_event, describe_summary
from gateway.cli.liveview.model import LiveModel, SeenEvent, WindowSummary, event_name, sequence_number
from gateway.cli.liveview.render import render_view
from gateway.diag.client import request_status
from tests.support.broker import Mosquitto, free_port
from tests.support.peers import ROOT, Daemon, wait_for, write_config

# What `status` answered and what `tail` streamed, recorded from a demo gateway (trimmed).
STATUS: dict[str, Any] = {
    "version": "0.2.0", "commit": "33b858ad1ea3c0ffee00000000000000deadbeef", "uptime_s": 42.0,
    "store_id": "demo-store", "gateway_id": "gw-demo", "boot": 1,
    "devices": {
        "reader-1": {"kind": "llrp", "state": "connected", "readings": 1899, "last_reading_age_s": 0.1,
                     "reconnects": 0, "restarts": 0, "errors": {}, "last_error": None},
        "door-1": {"kind": "serial_counter", "state": "reconnecting", "readings": 6, "last_reading_age_s": 3.0,
                   "reconnects": 2, "restarts": 0, "errors": {"unplugged": 2}, "last_error": "port vanished"},
    },
    "outbox": {"last_seq": 330, "pending": 3, "oldest_pending_age_s": 0.2, "bytes": 90112,
               "max_bytes": 200000000, "dropped": {}, "write_errors": 0, "queued_in_ram": 1},
    "mqtt": {"connected": True, "last_puback_age_s": 0.1, "reconnects": 0, "inflight": 3, "last_error": None,
             "broker": "127.0.0.1:1883", "acked": 327},
    "disk_free_bytes": 10_000_000_000,
}


def item(seq: int, action: str, zone: str, subject: str = "reader-1") -> dict[str, Any]:
    """An `item` event as the tail streams it."""
    return {"specversion": "1.0", "id": f"id-{seq}", "source": "/stores/demo-store/gateways/gw-demo",
            "type": "storegw.item.v1", "subject": subject, "time": "2026-11-29T16:38:25.000Z",
            "sequence": f"{seq:020d}", "gwboot": 1,
            "data": {"action": action, "epc": "3034257BF7194E80000003E9", "gtin": "80614141123465",
                     "scheme": "sgtin", "zone": zone, "reader": subject, "antenna": 1,
                     "last_seen": "2026-11-29T16:38:25.000Z"}}


def footfall(seq: int, subject: str = "door-1", entered: int = 4, left: int = 1) -> dict[str, Any]:
    """A `footfall` event as the tail streams it."""
    return {"specversion": "1.0", "id": f"id-{seq}", "source": "/stores/demo-store/gateways/gw-demo",
            "type": "storegw.footfall.v1", "subject": subject, "time": "2026-11-29T16:38:26.000Z",
            "sequence": f"{seq:020d}", "gwboot": 1,
            "data": {"line": "main-entrance", "interval_start": "2026-11-29T16:38:20.000Z", "interval_s": 5.0,
                     "in": entered, "out": left, "source": "serial_counter"}}


def recorded_model() -> LiveModel:
    """A model fed with the recorded status and a few seconds of events, its item window closed."""
    model = LiveModel(feed_size=12, summary_window_s=1.0)
    model.apply_status(STATUS, 100.0)
    for seq, (action, zone) in enumerate([("arrived", "sales-floor"), ("arrived", "sales-floor"),
                                          ("departed", "exit"), ("arrived", "sales-floor")], start=1):
        model.apply_event(item(seq, action, zone), 100.1 + seq / 10)
    model.apply_event(footfall(5), 100.6)
    model.tick(101.2)
    return model


def rendered(model: LiveModel, now: float = 101.5) -> str:
    """The model drawn as plain text, 120 columns wide."""
    out = io.StringIO()
    Console(file=out, width=120, force_terminal=False).print(render_view(model, now))
    return out.getvalue()


def test_items_are_counted_per_action_and_zone_over_the_window_other_events_one_by_one() -> None:
    model = LiveModel(feed_size=12, summary_window_s=1.0)
    model.apply_status(STATUS, 100.0)
    model.apply_event(item(1, "arrived", "sales-floor"), 100.1)
    model.apply_event(footfall(2), 100.2)
    model.apply_event(item(3, "arrived", "sales-floor"), 100.3)
    model.apply_event(item(4, "departed", "exit"), 100.4)
    model.tick(100.9)  # the window is still open: the items are not in the feed yet
    assert [type(entry) for entry in model.feed] == [SeenEvent]
    model.tick(101.1)
    assert len(model.feed) == 2
    summary = model.feed[-1]
    assert isinstance(summary, WindowSummary)
    assert (summary.name, summary.subject, summary.total) == ("item", "reader-1", 3)
    assert summary.counts == {("arrived", "sales-floor"): 2, ("departed", "exit"): 1}
    assert describe_summary(summary) == "2 arrived @ sales-floor, 1 departed @ exit"
    model.apply_event(item(5, "moved", "fitting-room"), 101.5)
    model.tick(102.6)  # a new window starts with the next item
    latest = model.feed[-1]
    assert isinstance(latest, WindowSummary) and latest.counts == {("moved", "fitting-room"): 1}


def test_events_by_type_and_last_event_per_device_and_rows_in_status_order() -> None:
    model = recorded_model()
    model.apply_event({**footfall(6), "type": "storegw.health.v1", "subject": "gw-demo", "data": {}}, 101.3)
    rows = model.device_rows()
    assert [row.device_id for row in rows] == ["reader-1", "door-1"]  # the gateway's own health is no device
    reader, door = rows
    assert (reader.kind, reader.state, reader.readings) == ("llrp", "connected", 1899)
    assert reader.events_by_type == {"item": 4}
    assert reader.last_event is not None and reader.last_event.seq == 4
    assert describe_event(reader.last_event.name, reader.last_event.data) == "arrived @ sales-floor GTIN 80614141123465"
    assert door.events_by_type == {"footfall": 1} and door.state == "reconnecting"
    model.apply_event(footfall(7, subject="reader-1"), 101.4)
    assert reader.events_by_type == {"item": 4, "footfall": 1}
    assert reader.last_event is not None and reader.last_event.name == "footfall"


def test_the_feed_keeps_only_the_latest_entries_and_a_lost_daemon_keeps_the_last_status() -> None:
    model = LiveModel(feed_size=3)
    model.apply_status(STATUS, 10.0)
    for seq in range(1, 6):
        model.apply_event(footfall(seq), 10.0 + seq)
    assert [entry.seq for entry in model.feed if isinstance(entry, SeenEvent)] == [3, 4, 5]
    model.apply_unreachable("nobody listens on /run/x.sock: the daemon is not running", 20.0)
    assert model.status is STATUS and model.device_rows()[0].device_id == "reader-1"
    text = rendered(model, 20.0)
    assert "daemon not answering: nobody listens on /run/x.sock" in text
    model.apply_status(STATUS, 21.0)
    assert "daemon not answering" not in rendered(model, 21.0)


def test_envelope_fields_are_read_leniently() -> None:
    assert event_name("storegw.stock-count.v1") == "stock-count"
    assert event_name("something.else") == "something.else"
    assert sequence_number("00000000000000004711") == 4711
    assert sequence_number(None) is None and sequence_number("12a") is None
    model = LiveModel()
    model.apply_event({"type": "storegw.footfall.v1", "subject": "door-1", "data": "not a dict"}, 5.0)
    event = model.feed[-1]
    assert isinstance(event, SeenEvent) and event.time == 5.0 and event.data == {} and event.seq is None


def test_render_shows_the_header_a_row_per_device_and_the_item_summary() -> None:
    text = rendered(recorded_model())
    assert "storegw 0.2.0 (33b858ad1ea3)" in text
    assert "store demo-store" in text and "gateway gw-demo" in text
    assert "broker up 127.0.0.1:1883" in text and "delivered 327" in text
    assert "outbox pending 3" in text and "in RAM 1" in text
    lines = text.splitlines()
    reader_row = next(line for line in lines if line.startswith("reader-1"))
    assert re.search(r"reader-1\s+llrp\s+connected\s+1,899\s+item 4\s+\d\d:\d\d:\d\d item arrived @ sales-floor",
                     reader_row), reader_row
    door_row = next(line for line in lines if line.startswith("door-1"))
    assert re.search(r"door-1\s+serial_counter\s+reconnecting\s+6\s+footfall 1\s+.*main-entrance: in 4 out 1",
                     door_row)
    feed_item = next(line for line in lines if "×" in line)
    assert re.search(r"4×\s+item\s+reader-1\s+3 arrived @ sales-floor, 1 departed @ exit", feed_item)
    assert not any(re.search(r"#[1-4]\b", line) for line in lines), "items must not be listed one by one"
    assert any(re.search(r"#5\s+footfall\s+door-1", line) for line in lines)


def test_render_before_any_status_says_it_waits() -> None:
    text = rendered(LiveModel(), 0.0)
    assert "waiting for the daemon" in text and "(no events yet)" in text


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the storegw CLI off a terminal."""
    return subprocess.run([sys.executable, "-m", "gateway.cli.main", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout, env={**os.environ, "COLUMNS": "120"})


def test_top_once_shows_the_device_row_of_a_running_daemon(tmp_path: Path, mosquitto: Mosquitto) -> None:
    config = write_config(tmp_path / "c.toml", port=mosquitto.port, data_dir=tmp_path / "data",
                          devices='[[devices]]\nid = "load"\nkind = "synthetic"\nrate = 50\n')
    daemon = Daemon(config).start()
    try:
        socket = str(tmp_path / "data" / "storegw.sock")
        wait_for(lambda: os.path.exists(socket), what="the status socket")
        wait_for(lambda: request_status(socket)["mqtt"]["acked"] > 0, what="a delivered event in the status")
        result = cli("top", "--once", "--config", str(config))
    finally:
        daemon.terminate()
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "store store-t" in text and "gateway gw-t" in text and "broker up" in text
    assert re.search(r"^load\s+synthetic\s+connected\s+[\d,]+\s+synthetic \d+", text, re.MULTILINE), text
    assert re.search(r"\d+×\s+synthetic\s+load\s+\d+ events", text), text


def test_top_says_in_one_sentence_that_no_daemon_answers(tmp_path: Path) -> None:
    result = cli("top", "--once", "--socket", str(tmp_path / "none.sock"))
    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr.strip().count("\n") == 0
    assert "no status socket at" in result.stderr and "daemon" in result.stderr


def test_demo_on_a_terminal_shows_the_live_view_then_the_summary(tmp_path: Path) -> None:
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 45, 140, 0, 0))
    process = subprocess.Popen([sys.executable, "-m", "gateway.cli.main", "demo", "--seconds", "4",
                                "--broker", f"mqtt://127.0.0.1:{free_port()}", "--data-dir", str(tmp_path)],
                               stdin=subprocess.DEVNULL, stdout=secondary, stderr=subprocess.PIPE, cwd=ROOT,
                               env={k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")})
    os.close(secondary)
    screen = b""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 0.5)
        if ready:
            try:
                screen += os.read(primary, 65536)
                continue
            except OSError:  # every writer closed the terminal
                break
        if process.poll() is not None:
            break
    os.close(primary)
    assert process.wait(10) == 0, process.stderr.read() if process.stderr else ""
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.decode(errors="replace"))
    assert "store demo-store" in text and "latest events" in text
    assert re.search(r"main-entrance-counter\s+serial_counter\s+connected", text), text[-3000:]
    assert "events committed" in text
    assert not re.search(r"#\d+\s+footfall\s{2,}main-entrance-counter\s+\{", text), "plain lines on a terminal"


def retail_footfall(seq: int, **counts: Any) -> dict[str, Any]:
    """A camera's footfall event with retail figures, as the tail streams it."""
    event = footfall(seq, subject="door-camera")
    event["data"] = {**event["data"], "line": "door", "source": "camera", **counts}
    return event


def store_occupancy(seq: int, count: int, alert: str | None = None) -> dict[str, Any]:
    """A counter's store-scope occupancy event with a limit of 25."""
    data: dict[str, Any] = {"zone": "store", "count": count, "scope": "store", "limit": 25}
    if alert:
        data["alert"] = alert
    return {**footfall(seq, subject="main-entrance-counter"), "type": "storegw.occupancy.v1", "data": data}


def test_staff_children_groups_passers_by_capture_rate_and_occupancy_are_shown() -> None:
    model = LiveModel()
    model.apply_status(STATUS, 100.0)
    model.apply_event(retail_footfall(1, staff_in=1, staff_out=0, child_in=1, child_out=0, groups_in=3, groups_out=2,
                                      passers_by=10, capture_rate=0.4, u_turns=1, **{"in": 4, "out": 2}), 100.1)
    model.apply_event(retail_footfall(2, staff_in=1, staff_out=2, child_in=0, child_out=1, groups_in=2, groups_out=1,
                                      passers_by=30, capture_rate=0.2, u_turns=0, **{"in": 6, "out": 3}), 100.2)
    model.apply_event(store_occupancy(3, 26, alert="over"), 100.3)
    (door,) = model.figures.lines.values()
    assert door.counts["staff_in"] == 2 and door.counts["passers_by"] == 40
    assert door.capture_rate == 0.25, "in / passers-by of the sums, not a mean of the interval rates"
    text = rendered(model)
    row = next(line for line in text.splitlines() if line.lstrip().startswith("door-camera") and "door " in line)
    assert row.split()[1:] == ["door", "10/5", "2/2", "1/1", "5/3", "40", "25%", "1", "-"]
    occupancy = next(line for line in text.splitlines() if line.lstrip().startswith("main-entrance-counter"))
    assert occupancy.split()[-4:] == ["26", "/", "25", "OVER"]
    assert describe_event("footfall", model.feed[1].data) == (  # type: ignore[union-attr]
        "door: in 6 out 3, staff 1/2, child 0/1, groups 2/1, passers-by 30, capture 20%")
    model.apply_event(store_occupancy(4, 25, alert="under"), 100.4)
    assert "OVER" not in next(line for line in rendered(model).splitlines()
                              if line.lstrip().startswith("main-entrance-counter"))


def test_without_retail_events_the_view_has_no_figures_table() -> None:
    assert "retail figures" not in rendered(recorded_model()), "a plain counter's footfall shows in/out only"
