"""cmd/config-apply against the real daemon and a real mosquitto: refused, committed, rolled back, restarted."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.integration.remote.support import (
    SYNTHETIC,
    apply,
    config_show,
    local_tables,
    outcome,
    restart,
    running,
    start,
    started,
)
from tests.support.broker import Mosquitto, free_port
from tests.support.peers import validate_event, wait_for


def test_invalid_and_identity_changes_are_refused_and_change_nothing(tmp_path: Path, mosquitto: Mosquitto) -> None:
    with started(tmp_path, mosquitto, SYNTHETIC.format(rate=2)) as (_daemon, sub, config):
        before = running(sub)
        bad = local_tables(config)
        bad["mqtt"]["keepalive_s"] = 1
        bad["devices"][0]["rate"] = "fast"
        answer = apply(sub, "bad-1", bad)
        assert answer["ok"] is False and "nothing changed" in answer["error"]
        keys = sorted(error.split(":")[0] for error in answer["errors"])
        assert keys == ["devices[0].rate", "mqtt.keepalive_s"], answer["errors"]
        other = local_tables(config)
        other["gateway"]["store_id"] = "store-else"
        answer = apply(sub, "bad-2", other)
        assert answer["ok"] is False
        assert answer["errors"] == ["gateway.store_id: cannot be changed remotely (this gateway has 'store-t'); "
                                    "identity keys change only in the local config file"]
        assert apply(sub, "bad-3", "[mqtt\nurl = 1")["errors"][0].startswith("(syntax): ")
        assert apply(sub, "", local_tables(config))["errors"] == [
            'version: required: a string the backend chooses, e.g. "2026-12-01.3"']
        after = running(sub)
        assert after["config"] == before["config"] and after["source"] == "local" and after["version"] is None
        assert not [e for e in sub.events() if e["type"] == "storegw.config.v1"]
        assert not os.path.exists(tmp_path / "data" / "config" / "state.json")


def test_config_apply_false_refuses(tmp_path: Path, mosquitto: Mosquitto) -> None:
    with started(tmp_path, mosquitto, "", config_apply=False) as (_daemon, sub, config):
        answer = apply(sub, "v1", local_tables(config))
        assert answer["ok"] is False and "config_apply = false" in answer["error"]


def test_a_valid_config_is_tried_committed_and_kept_across_a_restart(tmp_path: Path, mosquitto: Mosquitto) -> None:
    daemon, sub, config = start(tmp_path, mosquitto, SYNTHETIC.format(rate=2))
    try:
        new = local_tables(config)
        new["devices"][0]["rate"] = 3  # the device restarts: it must come back connected
        new["gateway"]["health_interval_s"] = 30
        answer = apply(sub, "v1", new)
        assert answer["ok"] is True and answer["state"] == "trial" and answer["commit_after_s"] == 3
        busy = apply(sub, "v2", new)  # one trial at a time
        assert busy["ok"] is False and busy["busy"] is True and "'v1' is on trial" in busy["error"]
        event = outcome(sub, "v1")
        validate_event(event)
        data = event["data"]
        assert data["state"] == "committed", data
        assert data["sha256"] == answer["sha256"] and data["previous_version"] is None
        assert data["active_version"] == "v1" and data["request_id"]
        now = running(sub)
        assert (now["source"], now["version"], now["sha256"], now["state"]) == ("remote", "v1", answer["sha256"],
                                                                                "committed")
        assert now["config"]["devices"][0]["rate"] == 3
        shown = config_show(config)
        assert (shown["source"], shown["version"], shown["sha256"]) == ("remote", "v1", answer["sha256"])
        stored = tmp_path / "data" / "config" / "000001.toml"
        assert oct(stored.stat().st_mode & 0o777) == "0o640"
    finally:
        assert daemon.terminate() == 0
    restart(daemon, sub)
    try:
        after = running(sub)
        assert (after["source"], after["version"]) == ("remote", "v1")
        assert after["config"]["gateway"]["health_interval_s"] == 30
    finally:
        daemon.terminate()
        sub.close()


def test_a_broker_that_cannot_be_reached_rolls_back_by_itself(tmp_path: Path, mosquitto: Mosquitto) -> None:
    with started(tmp_path, mosquitto, SYNTHETIC.format(rate=2)) as (daemon, sub, config):
        new = local_tables(config)
        new["mqtt"]["url"] = f"mqtt://127.0.0.1:{free_port()}"  # nobody listens there
        answer = apply(sub, "dead-broker", new)
        assert answer["ok"] is True
        # delivered through the outbox once the old link is back
        data = outcome(sub, "dead-broker")["data"]
        assert data["state"] == "rolled_back", data
        assert "broker link is not up" in data["reason"] and data["active_version"] is None
        now = running(sub)
        assert now["source"] == "local" and now["config"]["mqtt"]["url"] == f"mqtt://127.0.0.1:{mosquitto.port}"
        assert config_show(config)["source"] == "local"
    assert "rolled back" in daemon.log()


def test_sighup_keeps_the_remote_config_until_the_local_file_is_edited(tmp_path: Path, mosquitto: Mosquitto) -> None:
    with started(tmp_path, mosquitto, SYNTHETIC.format(rate=2)) as (daemon, sub, config):
        new = local_tables(config)
        new["devices"][0]["rate"] = 3
        assert apply(sub, "v1", new)["ok"] is True
        assert outcome(sub, "v1")["data"]["state"] == "committed"
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: daemon.log().count("config reloaded from") >= 1, 20, "the first reload")
        now = running(sub)
        assert (now["source"], now["version"]) == ("remote", "v1") and now["config"]["devices"][0]["rate"] == 3
        config.write_text(config.read_text().replace("rate = 2", "rate = 5"))  # store IT edits the file
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: daemon.log().count("config reloaded from") >= 2, 20, "the second reload")
        now = running(sub)
        assert now["source"] == "local" and now["config"]["devices"][0]["rate"] == 5
        edited = wait_for(lambda: [e["data"] for e in sub.events() if e["type"] == "storegw.config.v1"
                                   and e["data"]["state"] == "rolled_back"], 20, "the event of the local edit")
        assert "local config file was edited" in edited[0]["reason"]
    assert config_show(config)["source"] == "local"
