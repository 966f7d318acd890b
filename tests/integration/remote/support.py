"""Helpers of the remote config tests: a daemon with a real mosquitto, config-apply requests and their outcomes."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.support.broker import Mosquitto
from tests.support.paths import REPO_ROOT
from tests.support.peers import Daemon, Subscriber, wait_for, write_config

BASE = "storegw/v1/store-t/gw-t"
SYNTHETIC = """
[[devices]]
id = "load"
kind = "synthetic"
rate = {rate}
"""


def remote_table(commit_after_s: float = 3, config_apply: bool = True) -> str:
    """The local file's [remote] table (written with the devices, the last tables of the file)."""
    return f"[remote]\ncommit_after_s = {commit_after_s}\nconfig_apply = {str(config_apply).lower()}\n"


def start(tmp_path: Path, broker: Mosquitto, devices: str, commit_after_s: float = 3,
          config_apply: bool = True) -> tuple[Daemon, Subscriber, Path]:
    """A subscriber, then the daemon, connected (its birth seen)."""
    sub = Subscriber(broker.port, f"{BASE}/#")
    config = write_config(tmp_path / "storegw.toml", port=broker.port, data_dir=tmp_path / "data",
                          devices=remote_table(commit_after_s, config_apply) + devices)
    daemon = Daemon(config).start()
    wait_online(sub)
    return daemon, sub, config


@contextlib.contextmanager
def started(tmp_path: Path, broker: Mosquitto, devices: str, commit_after_s: float = 3,
            config_apply: bool = True) -> Iterator[tuple[Daemon, Subscriber, Path]]:
    """``start``, and on leaving: the daemon terminated and the subscriber closed."""
    daemon, sub, config = start(tmp_path, broker, devices, commit_after_s, config_apply)
    try:
        yield daemon, sub, config
    finally:
        daemon.terminate()
        sub.close()


def wait_online(sub: Subscriber, after: int = 0) -> int:
    """Wait for a birth on `.../state` announcing a boot above ``after``; returns that boot."""

    def boot() -> int:
        """The highest boot announced online so far (0: none)."""
        births = [json.loads(p) for p in sub.on_topic(f"{BASE}/state")]
        return max((b.get("boot", 0) for b in births if b.get("online")), default=0)

    return wait_for(lambda: boot() > after and boot(), 30, "the birth")  # type: ignore[no-any-return]


def restart(daemon: Daemon, sub: Subscriber) -> None:
    """Start the daemon again and wait for its new birth (a command sent before it subscribes is lost)."""
    before = wait_online(sub)
    daemon.start()
    wait_online(sub, before)


def local_tables(config: Path) -> dict[str, Any]:
    """The local file as tables, the base of a remote config."""
    return tomllib.loads(config.read_text())


def command(sub: Subscriber, name: str, request: dict[str, Any], timeout: float = 20) -> dict[str, Any]:
    """Publish one command and wait for its answer (matched on request_id)."""
    request_id = request.setdefault("request_id", uuid.uuid4().hex)
    sub.publish(f"{BASE}/cmd/{name}", json.dumps(request).encode())

    def answer() -> dict[str, Any] | None:
        """The answer of this request, once received."""
        found = [json.loads(p) for p in sub.on_topic(f"/cmd-res/{name}")]
        return next((a for a in found if a.get("request_id") == request_id), None)

    return wait_for(answer, timeout, f"the answer to {name}")  # type: ignore[no-any-return]


def apply(sub: Subscriber, version: str, config: Any) -> dict[str, Any]:
    """cmd/config-apply."""
    return command(sub, "config-apply", {"version": version, "config": config})


def apply_when_free(sub: Subscriber, version: str, config: Any) -> dict[str, Any]:
    """cmd/config-apply, asked again while it answers busy (the last trial records its outcome after its event)."""
    answers: list[dict[str, Any]] = []

    def free() -> bool:
        """Ask once; True unless the answer is busy."""
        answers.append(apply(sub, version, config))
        return not answers[-1].get("busy")

    wait_for(free, 20, f"config-apply of {version} not busy")
    return answers[-1]


def outcome(sub: Subscriber, version: str, timeout: float = 30) -> dict[str, Any]:
    """The `config` event of ``version`` (the whole event)."""

    def found() -> dict[str, Any] | None:
        """The first config event of this version, once received."""
        events = [e for e in sub.events() if e["type"] == "storegw.config.v1" and e["data"]["version"] == version]
        return events[0] if events else None

    return wait_for(found, timeout, f"the config event of {version}")  # type: ignore[no-any-return]


def running(sub: Subscriber) -> dict[str, Any]:
    """cmd/config's answer."""
    return command(sub, "config", {})


def config_show(config: Path) -> dict[str, Any]:
    """`storegw config show --json`, run as a technician would (no daemon needed)."""
    done = subprocess.run([sys.executable, "-m", "gateway.cli.main", "config", "show", "--config", str(config),
                           "--json"], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60, check=True)
    return json.loads(done.stdout)  # type: ignore[no-any-return]
