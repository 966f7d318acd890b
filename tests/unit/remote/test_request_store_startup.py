"""A config-apply request checked like `config check`, the stored versions, and the config a start chooses."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.remote.request import Refused, remote_config
from gateway.remote.startup import choose_at_start
from gateway.remote.store import ConfigStore, State, Trial, file_sha256

LOCAL = """
[gateway]
store_id = "s1"
gateway_id = "g1"
data_dir = "{data}"

[mqtt]
url = "mqtt://127.0.0.1:1883"
"""


@pytest.fixture
def local(tmp_path: Path) -> Path:
    """A valid local config file with its data_dir."""
    (tmp_path / "data").mkdir()
    path = tmp_path / "storegw.toml"
    path.write_text(LOCAL.format(data=tmp_path / "data"))
    return path


def remote(port: int = 1884, **gateway: object) -> dict[str, object]:
    """A remote config as JSON: identity left out, a new broker port and one synthetic device."""
    return {"gateway": {"health_interval_s": 30, **gateway}, "mqtt": {"url": f"mqtt://127.0.0.1:{port}"},
            "devices": [{"id": "load", "kind": "synthetic", "rate": 1}]}


def test_valid_json_gets_the_identity_of_the_running_config(local: Path) -> None:
    running = load_config(str(local))
    config, text = remote_config(remote(), running, str(local))
    assert (config.gateway.store_id, config.gateway.gateway_id) == ("s1", "g1")
    assert config.gateway.data_dir == running.gateway.data_dir and config.mqtt.url.endswith(":1884")
    assert config.devices[0].id == "load"
    assert "[[devices]]" in text


def test_a_toml_string_is_accepted_too(local: Path) -> None:
    running = load_config(str(local))
    config, _ = remote_config('[mqtt]\nurl = "mqtt://10.0.0.1"\n', running, str(local))
    assert config.mqtt.url == "mqtt://10.0.0.1" and config.gateway.store_id == "s1"


def test_invalid_config_lists_every_problem_as_key_and_message(local: Path) -> None:
    running = load_config(str(local))
    bad = {"mqtt": {"url": "http://x", "keepalive_s": 1}, "devices": [{"id": "a", "kind": "nope"}],
           "gateway": {"health_interval_s": None}}
    with pytest.raises(Refused) as refused:
        remote_config(bad, running, str(local))
    assert refused.value.errors == ["gateway.health_interval_s: null is not a config value; leave the key out "
                                    "for its default"]
    del bad["gateway"]
    with pytest.raises(Refused) as refused:
        remote_config(bad, running, str(local))
    keys = [error.split(":")[0] for error in refused.value.errors]
    assert "mqtt.url" in keys or "mqtt.keepalive_s" in keys
    assert all(": " in error and not error.startswith(str(local)) for error in refused.value.errors)


def test_relative_paths_resolve_against_the_local_file_folder(local: Path) -> None:
    running = load_config(str(local))
    (local.parent / "mqtt.pass").write_text("pw\n")
    config, _ = remote_config({"mqtt": {"url": "mqtt://h", "username": "u", "password_file": "mqtt.pass"}},
                              running, str(local))
    assert config.mqtt.password_file == "mqtt.pass"
    with pytest.raises(Refused) as refused:
        remote_config({"mqtt": {"url": "mqtt://h", "username": "u", "password_file": "nope.pass"}}, running,
                      str(local))
    assert refused.value.errors[0].startswith("mqtt.password_file: ") and str(local.parent) in refused.value.errors[0]


@pytest.mark.parametrize("key,value", [("store_id", "other"), ("gateway_id", "g2"), ("data_dir", "/tmp/else")])
def test_identity_keys_cannot_change(local: Path, key: str, value: str) -> None:
    running = load_config(str(local))
    with pytest.raises(Refused) as refused:
        remote_config(remote(**{key: value}), running, str(local))
    assert refused.value.errors == [f"gateway.{key}: cannot be changed remotely (this gateway has "
                                    f"{getattr(running.gateway, key)!r}); identity keys change only in the "
                                    "local config file"]


def test_versions_are_written_0640_and_pruned_but_never_the_committed(tmp_path: Path) -> None:
    store = ConfigStore(str(tmp_path), keep_versions=2)
    state = State()
    first = store.add_version(state, "a = 1\n", "v1", None, 1.0)
    state.committed = first.slot
    for n in range(2, 6):
        store.add_version(state, f"a = {n}\n", f"v{n}", None, float(n))
    gone = store.prune(state)
    store.save_state(state)
    store.delete_versions(gone)
    assert [e.version for e in state.history] == ["v1", "v5"]
    assert sorted(os.listdir(store.folder)) == ["000001.toml", "000005.toml", "state.json"]
    assert stat.S_IMODE(os.stat(store.version_path(5)).st_mode) == 0o640
    assert store.load_state() == state


def commit(store: ConfigStore, text: str, version: str, local: Path) -> None:
    """Store ``text`` as the committed version, as a passed trial would."""
    state = store.load_state()
    entry = store.add_version(state, text, version, "r1", 10.0)
    entry.outcome, entry.local_sha256, entry.committed_at = "committed", file_sha256(str(local)), 11.0
    state.committed = entry.slot
    store.save_state(state)


def test_start_uses_the_committed_remote_config(local: Path) -> None:
    running = load_config(str(local))
    store = ConfigStore(running.gateway.data_dir)
    _, text = remote_config(remote(), running, str(local))
    commit(store, text, "v7", local)
    choice = choose_at_start(running, str(local), store, 20.0)
    assert choice.origin.source == "remote" and choice.origin.version == "v7"
    assert choice.config.mqtt.url.endswith(":1884") and choice.notices == []


def test_a_trial_cut_by_a_restart_is_rolled_back(local: Path) -> None:
    running = load_config(str(local))
    store = ConfigStore(running.gateway.data_dir)
    _, text = remote_config(remote(), running, str(local))
    state = store.load_state()
    entry = store.add_version(state, text, "v8", "req-8", 10.0)
    state.trial = Trial(slot=entry.slot, started_at=10.0)
    store.save_state(state)
    choice = choose_at_start(running, str(local), store, 20.0)
    assert choice.origin.source == "local" and choice.config == running
    assert [(n.version, n.state, n.request_id) for n in choice.notices] == [("v8", "rolled_back", "req-8")]
    assert "interrupted by a restart" in choice.notices[0].reason and choice.save
    assert choice.state.trial is None


def test_a_corrupt_committed_version_falls_back_to_the_one_before(local: Path) -> None:
    running = load_config(str(local))
    store = ConfigStore(running.gateway.data_dir)
    _, old = remote_config(remote(1885), running, str(local))
    _, new = remote_config(remote(1886), running, str(local))
    commit(store, old, "v1", local)
    commit(store, new, "v2", local)
    Path(store.version_path(2)).write_text("garbage\x00")
    choice = choose_at_start(running, str(local), store, 20.0)
    assert choice.origin.version == "v1" and choice.config.mqtt.url.endswith(":1885")
    assert [n.version for n in choice.notices] == ["v2"] and choice.notices[0].active_version == "v1"
    assert not os.path.exists(store.version_path(2))  # set aside
    assert any(name.startswith("000002.toml.corrupt-") for name in os.listdir(store.folder))


def test_a_garbage_state_file_is_set_aside_and_the_local_file_used(local: Path) -> None:
    running = load_config(str(local))
    store = ConfigStore(running.gateway.data_dir)
    os.makedirs(store.folder)
    Path(store.state_path).write_text("{not json")
    choice = choose_at_start(running, str(local), store, 20.0)
    assert choice.origin.source == "local" and choice.config == running
    assert any(name.startswith("state.json.corrupt-") for name in os.listdir(store.folder))


def test_an_edited_local_file_wins(local: Path) -> None:
    running = load_config(str(local))
    store = ConfigStore(running.gateway.data_dir)
    _, text = remote_config(remote(), running, str(local))
    commit(store, text, "v3", local)
    local.write_text(local.read_text() + "\n# edited by store IT\n")
    choice = choose_at_start(running, str(local), store, 20.0)
    assert choice.origin.source == "local" and choice.state.committed is None
    assert json.loads(json.dumps([n.state for n in choice.notices])) == ["rolled_back"]
