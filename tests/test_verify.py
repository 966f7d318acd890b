"""`storegw verify` finds gaps the way a backend would, and fills them with cmd/replay."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from broker import Mosquitto
from peers import ROOT, Daemon, wait_for, write_config

from gateway.cli.outbox import read_stats
from gateway.consumer import StreamCheck, ranges


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
