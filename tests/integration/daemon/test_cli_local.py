"""The technician's local verbs against a running daemon: status, tail; and the demo's broker fallback."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.broker import Mosquitto, free_port
from tests.support.peers import ROOT, Daemon, wait_for, write_config


def cli(*args: str, timeout: float = 30, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the storegw CLI."""
    return subprocess.run([sys.executable, "-m", "gateway.cli.main", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout, env=env)


def test_status_and_tail_talk_to_the_running_daemon(tmp_path: Path, mosquitto: Mosquitto) -> None:
    config = write_config(tmp_path / "c.toml", port=mosquitto.port, data_dir=tmp_path / "data",
                          devices='[[devices]]\nid = "load"\nkind = "synthetic"\nrate = 50\n')
    daemon = Daemon(config).start()
    try:
        wait_for(lambda: (tmp_path / "data" / "storegw.sock").exists(), what="the status socket")
        assert oct((tmp_path / "data" / "storegw.sock").stat().st_mode & 0o777) == "0o660"
        status = json.loads(wait_for(lambda: cli("status", "--config", str(config), "--json").stdout,
                                     what="status"))
        assert status["store_id"] == "store-t" and status["devices"]["load"]["kind"] == "synthetic"
        human = cli("status", "--config", str(config)).stdout
        assert "load" in human and "synthetic" in human and "connected" in human
        tail = subprocess.Popen([sys.executable, "-m", "gateway.cli.main", "tail", "--config", str(config),
                                 "--type", "synthetic"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
        lines = [json.loads(tail.stdout.readline()) for _ in range(5)]
        tail.kill()
        assert all(line["type"] == "storegw.synthetic.v1" for line in lines)
        assert [int(x["sequence"]) for x in lines] == sorted(int(x["sequence"]) for x in lines)
    finally:
        daemon.terminate()
    stopped = cli("status", "--config", str(config))
    assert stopped.returncode == 3 and "daemon" in stopped.stderr
    stats = json.loads(cli("outbox", "stats", "--config", str(config), "--json").stdout)
    assert stats["last_seq"] > 0 and stats["pending"] == 0


def test_demo_falls_back_to_the_embedded_broker_and_ends_by_itself(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}  # no mosquitto on PATH
    if os.path.exists("/usr/sbin/mosquitto"):
        # the fallback order is: configured broker, then mosquitto, then the embedded one; hide mosquitto
        env["STOREGW_NO_MOSQUITTO"] = "1"
    result = cli("demo", "--seconds", "4", "--broker", f"mqtt://127.0.0.1:{free_port()}", "--quiet",
                 timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert "embedded Python broker" in result.stdout
    assert "events committed" in result.stdout


def test_sllurp_echoes_of_what_the_driver_reports_are_filtered_and_the_rest_kept(caplog: Any) -> None:
    from gateway.logsetup import quiet_library_echoes

    quiet_library_echoes()
    quiet_library_echoes()  # idempotent
    log = logging.getLogger("sllurp.llrp")
    with caplog.at_level(logging.WARNING, logger="sllurp.llrp"):
        log.warning("\nDisconnected from server")
        log.warning("Too few bytes (%d) to unpack message header", 3)
        log.warning("Unexpected message type")
    assert [r.getMessage() for r in caplog.records if r.name == "sllurp.llrp"] == ["Unexpected message type"]
