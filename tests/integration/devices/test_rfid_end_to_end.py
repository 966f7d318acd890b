"""RFID end to end: the inventory verb and the daemon against the emulated reader over TCP."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.sim.llrp.population import Population
from drivers.sim.llrp.reader import LLRPReaderEmulator
from gateway.pipelines.epc import decode_epc
from tests.support.broker import Mosquitto
from tests.support.peers import ROOT, Daemon, Subscriber, validate_event, wait_for, write_config


@pytest.fixture
def reader() -> Iterator[LLRPReaderEmulator]:
    """An emulated reader on its own loop thread: 120 tags, every tag read every round."""
    emulator = LLRPReaderEmulator(Population.generate(120, antennas=4, seed=8), antennas=4, report_interval_s=0.2,
                                  read_rate=1.0, cross_read=0.3)
    running = emulator.start_in_thread()
    yield emulator
    running.stop()


def test_inventory_json_counts_each_tag_once_at_its_strongest_antenna(reader: LLRPReaderEmulator) -> None:
    result = subprocess.run([sys.executable, "-m", "gateway.cli.main", "rfid", "inventory", "--reader",
                             f"127.0.0.1:{reader.port}", "--antennas", "1,2,3,4", "--duration", "3", "--json"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert set(document) == {"reader", "duration_s", "reads", "unique_tags", "by_gtin", "non_gs1"}
    assert document["reader"] == f"127.0.0.1:{reader.port}" and document["duration_s"] == 3.0
    items = [i for i in reader.population.items if i.present]
    assert document["unique_tags"] == len(items)
    assert document["reads"] > len(items)  # cross-reads and repeated rounds are reads, not tags
    expected: dict[str, Counter[str]] = {}
    for item in items:
        gtin = decode_epc(item.epc).gtin or "non_gs1"
        expected.setdefault(gtin, Counter())[str(item.antenna)] += 1
    got = {gtin: Counter(row["by_antenna"]) for gtin, row in document["by_gtin"].items()}
    got["non_gs1"] = Counter(document["non_gs1"]["by_antenna"])
    assert got == expected
    assert all(row["total"] == sum(row["by_antenna"].values()) for row in document["by_gtin"].values())


def test_unreachable_reader_is_a_clear_error() -> None:
    from tests.support.broker import free_port

    result = subprocess.run([sys.executable, "-m", "gateway.cli.main", "rfid", "inventory", "--reader",
                             f"127.0.0.1:{free_port()}", "--duration", "1.5"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 1 and "cannot connect" in result.stderr


def test_daemon_publishes_item_and_stock_count_events(tmp_path: Path, mosquitto: Mosquitto,
                                                      reader: LLRPReaderEmulator) -> None:
    device = (f'[[devices]]\nid = "reader-1"\nkind = "llrp"\nhost = "127.0.0.1"\nport = {reader.port}\n'
              f'antennas = [1, 2, 3, 4]\ncycle_s = 5\nzones = {{"1" = "sales-floor", "2" = "fitting-room", '
              f'"3" = "backroom", "4" = "exit"}}\n')
    sub = Subscriber(mosquitto.port, "storegw/v1/#")
    config = write_config(tmp_path / "c.toml", port=mosquitto.port, data_dir=tmp_path / "data", devices=device,
                          health_interval_s=2)
    daemon = Daemon(config).start()
    try:
        wait_for(lambda: [e for e in sub.events() if e["type"] == "storegw.stock-count.v1"], timeout=30,
                 what="stock-count events")
        wait_for(lambda: [e for e in sub.events() if e["type"] == "storegw.health.v1"
                          and e["data"]["devices"]["reader-1"].get("reads_per_s", 0) > 0], what="reader health")
    finally:
        daemon.terminate()
    events = sub.events()
    for event in events:
        validate_event(event)
    items = [e["data"] for e in events if e["type"] == "storegw.item.v1"]
    arrived = {i["epc"] for i in items if i["action"] == "arrived"}
    left = {i["epc"] for i in items if i["action"] == "left_store"}
    on_exit = {i.epc.upper() for i in reader.population.items if i.antenna == 4}
    assert left == on_exit, "every tag read at the exit zone left the store"
    assert len(arrived) == len(reader.population.items)
    counts = [e["data"] for e in events if e["type"] == "storegw.stock-count.v1"]
    floor = next(c for c in counts if c["zone"] == "sales-floor")
    assert floor["total"] == sum(1 for i in reader.population.items if i.antenna == 1)
    assert "exit" not in {c["zone"] for c in counts if c["total"]}
