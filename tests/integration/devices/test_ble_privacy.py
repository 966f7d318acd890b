"""No BLE address or device name in anything storegw publishes, logs, stores or prints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from drivers.sim.ble_scene import generate
from tests.support.broker import Mosquitto
from tests.support.peers import ROOT, Daemon, Subscriber, validate_event, wait_for, write_config


def leaks(text: str, addresses: set[str], names: set[str]) -> list[str]:
    """Addresses (any case, with or without colons) and names found in ``text``."""
    found = []
    lowered = text.lower()
    for address in addresses:
        if address.lower() in lowered or address.replace(":", "").lower() in lowered:
            found.append(address)
    found += [name for name in names if name in text]
    return found


def test_daemon_outputs_logs_and_data_dir_hold_no_address_or_name(tmp_path: Path, mosquitto: Mosquitto) -> None:
    scene = generate(minutes=1, visitors=8, passers_by=5, members=1, seed=11, max_gap_s=2, dwell_range=(20, 50))
    for advert in scene.adverts[::7]:
        advert.name = "Alice's iPhone"
    recording = tmp_path / "input" / "scene.jsonl"
    recording.parent.mkdir()
    scene.write(str(recording))
    addresses = {a.address for a in scene.adverts}
    names = {"Alice's iPhone", "Pixel 9"}
    device = (f'[[devices]]\nid = "ble"\nkind = "ble"\nreplay = "{recording}"\nreplay_speed = 4.0\n'
              f'min_dwell_s = 2\nabsence_s = 3\ninterval_s = 10\n')
    sub = Subscriber(mosquitto.port, "storegw/v1/#")
    config = write_config(tmp_path / "c.toml", port=mosquitto.port, data_dir=tmp_path / "data", devices=device)
    daemon = Daemon(config).start()
    try:
        wait_for(lambda: len([e for e in sub.events() if e["type"] == "storegw.visit.v1"]) >= 4, timeout=30,
                 what="visit events")
    finally:
        daemon.terminate()
    payloads = b"\n".join(p for _, p, _ in sub.messages).decode()
    assert not leaks(payloads, addresses, names)
    assert not leaks(daemon.log(), addresses, names)
    for path in (tmp_path / "data").rglob("*"):
        if path.is_file():
            assert not leaks(path.read_bytes().decode("latin-1"), addresses, names), path
    for event in sub.events():
        validate_event(event)
    visitors = {e["data"]["visitor"] for e in sub.events() if e["type"] == "storegw.visit.v1"}
    assert all(re.fullmatch("[0-9a-f]{16}", v) for v in visitors)


def test_scan_table_and_replay_output_show_pseudonyms_only(tmp_path: Path) -> None:
    scene = generate(minutes=2, visitors=4, passers_by=2, members=0, seed=12, max_gap_s=2)
    recording = tmp_path / "scene.jsonl"
    scene.write(str(recording))
    addresses = {a.address for a in scene.adverts}
    replay = subprocess.run([sys.executable, "-m", "gateway.cli.main", "ble", "replay", str(recording), "--json"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert replay.returncode == 0, replay.stderr
    assert not leaks(replay.stdout + replay.stderr, addresses, {"Pixel 9"})
    scan = subprocess.run([sys.executable, "-m", "gateway.cli.main", "ble", "scan", "--replay", str(recording),
                           "--seconds", "3", "--record", str(tmp_path / "raw.jsonl")],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert scan.returncode == 0, scan.stderr
    assert "PSEUDONYM" in scan.stdout
    assert not leaks(scan.stdout + scan.stderr, addresses, {"Pixel 9"})
    assert (tmp_path / "raw.jsonl").read_text().count("\n") > 0, "the raw recording is written (it stays on the box)"
