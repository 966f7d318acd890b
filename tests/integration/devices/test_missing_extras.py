"""A device kind whose extra is not installed: said once, in one sentence, and never a restart loop.

The unit tests use module names that do not exist; `config check` and `doctor` run in this
process with sllurp made unimportable by a meta-path finder; the daemon and the demo run in a
real venv holding only the base lock (requirements/base.txt), so nothing is faked there.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.abc
import importlib.util
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import gateway.devices.llrp.needs
from gateway.cli.main import main
from gateway.config import ConfigError, parse_config
from gateway.devices import KINDS
from gateway.devices.extras import (
    MissingExtra,
    Needs,
    extra_import_error,
    missing_extra,
    missing_extra_sentence,
    missing_modules,
    needs_of,
)
from gateway.diag.client import request_status
from gateway.pipelines import Event
from gateway.supervisor import Supervisor
from tests.support.broker import Mosquitto, free_port, mosquitto_binary
from tests.support.peers import ROOT, Subscriber, wait_for, write_config

NOWHERE = "storegw_test_no_such_module"
READER = '[[devices]]\nid = "reader-1"\nkind = "llrp"\nhost = "127.0.0.1"\nport = {port}\n'
LOAD = '[[devices]]\nid = "load"\nkind = "synthetic"\nrate = 20\n'
BLE = '[[devices]]\nid = "ble-floor"\nkind = "ble"\nreplay = "scene.jsonl"\n'
SLLURP_SENTENCE = 'device "reader-1" (llrp) needs the rfid extra: install storegw[rfid] (missing module: sllurp)'


# ---- the declaration and the lookup --------------------------------------------------------------

def test_every_kind_declares_an_extra_of_pyproject_and_the_full_install_has_them_all() -> None:
    """Each kind's needs.py names an extra of pyproject.toml, and the test install has every one of them."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for kind in KINDS:
        needs = needs_of(kind)
        assert isinstance(needs, Needs), kind
        assert needs.extra is None or needs.extra in extras, f"{kind} names an extra pyproject does not have"
        assert bool(needs.extra) == bool(needs.modules), f"{kind}: an extra comes with the modules it provides"
        # the test install has every extra, so a typo in a module name shows here
        assert missing_extra(kind) is None, kind
    assert needs_of("llrp").extra == "rfid" and needs_of("ble").extra == "ble"
    assert needs_of("camera").extra == "vision" and "cv2" in needs_of("camera").modules
    assert needs_of("serial_counter").extra is None and needs_of("synthetic").extra is None


def test_a_module_that_does_not_exist_is_reported_in_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    """Missing modules are found and said in one sentence, singular or plural."""
    assert missing_modules(("json", NOWHERE, f"{NOWHERE}.sub")) == (NOWHERE, f"{NOWHERE}.sub")
    monkeypatch.setattr(gateway.devices.llrp.needs, "NEEDS", Needs(extra="rfid", modules=("json", NOWHERE)))
    assert missing_extra("llrp") == MissingExtra("llrp", "rfid", (NOWHERE,))
    assert missing_extra_sentence("reader-1", "llrp") == (
        f'device "reader-1" (llrp) needs the rfid extra: install storegw[rfid] (missing module: {NOWHERE})')
    monkeypatch.setattr(gateway.devices.llrp.needs, "NEEDS", Needs(extra="rfid", modules=(NOWHERE, NOWHERE + "2")))
    assert missing_extra_sentence("r", "llrp") == (
        f'device "r" (llrp) needs the rfid extra: install storegw[rfid] (missing modules: {NOWHERE}, {NOWHERE}2)')
    assert missing_extra_sentence("load", "synthetic") is None


def test_the_lookup_finds_modules_without_importing_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Looking a module up does not run it."""
    heavy = tmp_path / "storegw_test_heavy"
    heavy.mkdir()
    (heavy / "__init__.py").write_text("raise RuntimeError('imported, though only looked up')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert missing_modules(("storegw_test_heavy",)) == ()
    assert "storegw_test_heavy" not in sys.modules


def test_only_import_errors_of_the_declared_modules_count_as_a_missing_extra() -> None:
    """An import error counts as a missing extra only for a module the kind declares."""
    assert extra_import_error("llrp", ModuleNotFoundError("x", name="sllurp.llrp")) == \
        MissingExtra("llrp", "rfid", ("sllurp",))
    assert extra_import_error("llrp", ModuleNotFoundError("x", name="yaml")) is None
    assert extra_import_error("synthetic", ModuleNotFoundError("x", name="sllurp")) is None


def test_parse_config_names_the_kind_line_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """parse_config reports a missing extra at the kind line only with check_extras."""
    monkeypatch.setattr(gateway.devices.llrp.needs, "NEEDS", Needs(extra="rfid", modules=(NOWHERE,)))
    source = ('[gateway]\nstore_id = "s"\ngateway_id = "g"\n[mqtt]\nurl = "mqtt://127.0.0.1"\n\n'
              + LOAD + "\n" + READER.format(port=5084)
              + '\n[[devices]]\nid = "off"\nkind = "llrp"\nhost = "h"\nenabled = false\n')
    assert len(parse_config(source, "c.toml").devices) == 3  # the daemon still reads it
    with pytest.raises(ConfigError) as caught:
        parse_config(source, "c.toml", check_extras=True)
    assert [str(p) for p in caught.value.problems] == [
        f'c.toml:14: devices[1].kind: device "reader-1" (llrp) needs the rfid extra: install storegw[rfid] '
        f"(missing module: {NOWHERE})"]  # the disabled reader is not run, so not a problem


# ---- the supervisor (in this process) ------------------------------------------------------------

class Discard:
    """An event sink for a supervisor whose devices emit nothing here."""

    def commit_event(self, subject: str, event: Event) -> None:
        """Drop the event."""


async def _supervise(config: Any, until: Any, runner: Any = None,
                     monkeypatch: pytest.MonkeyPatch | None = None) -> Any:
    """Supervise one device until ``until(slot)``; return the slot (its task stopped) and whether it had ended."""
    if runner is not None and monkeypatch is not None:
        monkeypatch.setattr("gateway.supervisor.load_runner", lambda kind: runner)
    supervisor = Supervisor(Discard(), data_dir=".")
    supervisor.start(config)
    slot = supervisor.slots[config.id]
    async with asyncio.timeout(20):
        while not until(slot):
            await asyncio.sleep(0.01)
    finished = slot.task.done()
    await supervisor.stop_all()
    return slot, finished


def _reader() -> Any:
    """An llrp device config (nothing listens on its port)."""
    from gateway.devices.llrp.config import LLRPConfig

    return LLRPConfig(id="reader-1", host="127.0.0.1", port=free_port())


async def test_supervisor_fails_a_device_whose_extra_is_missing_once_and_never_restarts_it(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A device whose extra is missing fails once, with the sentence, and is never run or restarted."""
    monkeypatch.setattr(gateway.devices.llrp.needs, "NEEDS", Needs(extra="rfid", modules=(NOWHERE,)))
    ran: list[str] = []

    async def runner(cfg: Any, ctx: Any) -> None:
        """Must never be reached."""
        ran.append(cfg.id)

    slot, finished = await _supervise(_reader(), lambda s: s.task.done() or s.restarts > 0, runner, monkeypatch)
    assert finished and not ran and slot.restarts == 0
    expected = f'device "reader-1" (llrp) needs the rfid extra: install storegw[rfid] (missing module: {NOWHERE})'
    assert slot.context.stats.last_error == expected
    assert slot.health().state == "failed"
    assert [r.getMessage().startswith(expected) for r in caplog.records if r.name == "storegw.supervisor"] == [True]


async def test_a_declared_module_missing_at_run_time_is_treated_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """A declared module that goes missing when the runner imports it fails the device the same way."""
    async def runner(cfg: Any, ctx: Any) -> None:
        """Fails as the driver would when sllurp goes missing after the start-up check."""
        raise ModuleNotFoundError("No module named 'sllurp'", name="sllurp")

    slot, finished = await _supervise(_reader(), lambda s: s.task.done() or s.restarts > 0, runner, monkeypatch)
    assert finished and slot.restarts == 0
    assert slot.context.stats.last_error == SLLURP_SENTENCE


async def test_an_undeclared_missing_module_is_still_restarted(monkeypatch: pytest.MonkeyPatch) -> None:
    """A module no extra declares is a broken install: restarted with backoff as any failure."""
    async def runner(cfg: Any, ctx: Any) -> None:
        """A broken install, not a missing extra: the usual restart with backoff."""
        raise ModuleNotFoundError(f"No module named '{NOWHERE}'", name=NOWHERE)

    slot, finished = await _supervise(_reader(), lambda s: s.task.done() or s.restarts > 0, runner, monkeypatch)
    assert not finished and slot.restarts == 1
    assert NOWHERE in (slot.context.stats.last_error or "")


# ---- config check and doctor, with sllurp unimportable ------------------------------------------

class _Blocker(importlib.abc.MetaPathFinder):
    """Makes the named top-level modules (and their submodules) unimportable."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None) -> None:
        """Refuse the blocked names as a missing module would."""
        if fullname.split(".", 1)[0] in self.names:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)


@pytest.fixture
def no_sllurp(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """sllurp cannot be found or imported for the length of the test."""
    for name in [n for n in sys.modules if n.split(".", 1)[0] == "sllurp"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [_Blocker({"sllurp"}), *sys.meta_path])
    assert importlib.util.find_spec("json") is not None
    with pytest.raises(ModuleNotFoundError):
        import sllurp  # noqa: F401
    yield


def test_config_check_fails_at_the_kind_line_when_the_extra_is_missing(
        tmp_path: Path, no_sllurp: None, capsys: pytest.CaptureFixture[str]) -> None:
    """`config check` names the kind line and what to install, and exits 2."""
    config = write_config(tmp_path / "c.toml", port=free_port(), data_dir=tmp_path / "data",
                          devices=LOAD + "\n" + READER.format(port=5084))
    kind_line = next(n for n, line in enumerate(config.read_text().splitlines(), 1) if line == 'kind = "llrp"')
    assert main(["config", "check", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [f"{config}:{kind_line}: devices[1].kind: {SLLURP_SENTENCE}"]


def test_doctor_fails_the_device_check_when_the_extra_is_missing(
        tmp_path: Path, no_sllurp: None, mosquitto: Mosquitto, capsys: pytest.CaptureFixture[str]) -> None:
    """`doctor` fails that device's check with the sentence, and only that check."""
    with contextlib.closing(socket.socket()) as listener:  # a reader that answers: only its extra is missing
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        config = write_config(tmp_path / "c.toml", port=mosquitto.port, data_dir=tmp_path / "data",
                              devices=LOAD + "\n" + READER.format(port=listener.getsockname()[1]))
        code = main(["doctor", "--config", str(config)])
    out = capsys.readouterr().out
    assert f"[FAIL] device reader-1 (llrp): {SLLURP_SENTENCE}" in out.splitlines()
    assert [line for line in out.splitlines() if line.startswith("[FAIL]")] == \
        [f"[FAIL] device reader-1 (llrp): {SLLURP_SENTENCE}"]
    assert code == 1


# ---- the daemon and the demo in a venv with only the base lock -----------------------------------

@pytest.fixture(scope="module")
def base_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with exactly requirements/base.txt and storegw (editable): no extra at all (~10 s, pip's cache)."""
    venv = tmp_path_factory.mktemp("base-venv")
    pip = str(venv / "bin" / "pip")
    started = time.monotonic()
    for command in ([sys.executable, "-m", "venv", str(venv)],
                    [pip, "install", "-q", "--require-hashes", "--no-deps", "-r", str(ROOT / "requirements/build.txt"),
                     "-r", str(ROOT / "requirements/base.txt")],
                    [pip, "install", "-q", "--no-deps", "--no-build-isolation", "-e", str(ROOT)]):
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            pytest.skip(f"cannot build a base-only venv ({' '.join(command[:3])}...): {done.stderr[-500:]}")
    print(f"base-only venv built in {time.monotonic() - started:.1f} s")
    probe = subprocess.run([str(venv / "bin" / "python"), "-c", "import importlib.util as u; "
                            "print([m for m in ('sllurp', 'epcpy', 'bleak', 'numpy', 'cv2', 'onnxruntime', "
                            "'amqtt') if u.find_spec(m)])"], capture_output=True, text=True, timeout=60)
    assert probe.stdout.strip() == "[]", f"the base venv has extras: {probe.stdout} {probe.stderr}"
    return venv


def test_daemon_runs_the_other_devices_and_fails_the_ones_without_their_extra_once(
        base_venv: Path, tmp_path: Path, mosquitto: Mosquitto) -> None:
    """In a base install the daemon runs the synthetic device and fails the reader and the scanner once each."""
    sub = Subscriber(mosquitto.port, "storegw/v1/+/+/health")
    config = write_config(tmp_path / "c.toml", port=mosquitto.port, data_dir=tmp_path / "data", health_interval_s=1,
                          devices="\n".join([LOAD, READER.format(port=free_port()), BLE]))
    log_path = tmp_path / "daemon.log"
    with open(log_path, "wb") as log_file:
        daemon = subprocess.Popen([str(base_venv / "bin" / "storegw"), "run", "--config", str(config)],
                                  stdout=subprocess.DEVNULL, stderr=log_file, cwd=tmp_path)
    socket_path = str(tmp_path / "data" / "storegw.sock")

    def running_a_while() -> dict[str, Any] | None:
        """The status once the synthetic device has made 60 readings (a restart loop would have retried by then)."""
        try:
            status = request_status(socket_path)
        except Exception:  # not listening yet
            return None
        return status if status["devices"]["load"]["readings"] >= 60 else None

    try:
        status = wait_for(running_a_while, timeout=30, what="the synthetic device running")
        health = wait_for(lambda: [e for e in sub.events()
                                   if e["data"]["devices"].get("reader-1", {}).get("state") == "failed"],
                          what="a health event with the failed reader")[-1]["data"]
        human = subprocess.run([str(base_venv / "bin" / "storegw"), "status", "--socket", socket_path],
                               capture_output=True, text=True, timeout=30).stdout
    finally:
        daemon.terminate()
        daemon.wait(20)
        sub.close()
    ble_sentence = 'device "ble-floor" (ble) needs the ble extra: install storegw[ble] (missing module: bleak)'
    reader_sentence = ('device "reader-1" (llrp) needs the rfid extra: install storegw[rfid] '
                       "(missing modules: sllurp, epcpy)")
    for devices in (status["devices"], health["devices"]):
        assert devices["load"]["state"] == "connected"
        assert devices["reader-1"]["state"] == "failed" and devices["reader-1"]["restarts"] == 0
        assert devices["reader-1"]["last_error"] == reader_sentence
        assert devices["ble-floor"]["state"] == "failed" and devices["ble-floor"]["restarts"] == 0
        assert devices["ble-floor"]["last_error"] == ble_sentence
    assert reader_sentence in human and ble_sentence in human
    log = log_path.read_text()
    assert log.count(reader_sentence) == 1 and log.count(ble_sentence) == 1, log
    assert "restarts in" not in log and "ModuleNotFoundError" not in log and "Traceback" not in log, log


def test_config_check_in_the_base_venv_names_both_extras(base_venv: Path, tmp_path: Path) -> None:
    """In a base install `config check` names the rfid and the ble extra, each at its device."""
    config = write_config(tmp_path / "c.toml", port=free_port(), data_dir=tmp_path / "data",
                          devices="\n".join([LOAD, READER.format(port=5084), BLE]))
    done = subprocess.run([str(base_venv / "bin" / "storegw"), "config", "check", str(config)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert [line.split(": ", 1)[1] for line in done.stderr.splitlines()] == [
        'devices[1].kind: device "reader-1" (llrp) needs the rfid extra: install storegw[rfid] '
        "(missing modules: sllurp, epcpy)",
        'devices[2].kind: device "ble-floor" (ble) needs the ble extra: install storegw[ble] (missing module: bleak)']


def test_demo_runs_what_it_can_and_says_what_to_install_for_the_rest(base_venv: Path, tmp_path: Path) -> None:
    """In a base install the demo runs the counters and says what to install for RFID and BLE."""
    if mosquitto_binary() is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto); the base venv has no embedded broker")
    done = subprocess.run([str(base_venv / "bin" / "storegw"), "demo", "--seconds", "8",
                           "--broker", f"mqtt://127.0.0.1:{free_port()}"],  # nobody there: the demo starts mosquitto
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "not in this demo: RFID reader (install storegw[rfid]), BLE beacons (install storegw[ble])" \
        in [line.strip() for line in done.stdout.splitlines()], output
    assert "mosquitto started" in done.stdout and "3 simulated devices" in done.stdout  # 2 doors and a shop front
    assert "footfall" in done.stdout and "events committed" in done.stdout
    assert "ModuleNotFoundError" not in output and "Traceback" not in output, output
    assert "No module named" not in output and "ERROR" not in output, output


def test_demo_without_any_broker_says_what_to_install_in_one_sentence(base_venv: Path, tmp_path: Path) -> None:
    """Without mosquitto or the embedded broker the demo exits with one sentence saying what to install."""
    env = {"PATH": str(tmp_path), "STOREGW_NO_MOSQUITTO": "1", "HOME": str(tmp_path)}  # and no amqtt in the venv
    done = subprocess.run([str(base_venv / "bin" / "storegw"), "demo", "--seconds", "3",
                           "--broker", f"mqtt://127.0.0.1:{free_port()}"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env)
    assert done.returncode != 0
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert "install mosquitto" in done.stderr and "storegw[demo]" in done.stderr
    assert done.stdout == ""
