"""No hung process: a bad file at start is one sentence and an exit; a bad reload keeps the daemon running.

Every start test runs the real `storegw run` in a subprocess with a timeout: a process that hangs
(the old failure: a traceback, then an outbox thread keeping it alive with no socket) fails the
test by timing out. `storegw config check` must report the same fault as `FILE:line: key: ...`
whenever it can be seen without starting.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.diag.client import request_status
from tests.support.broker import free_port
from tests.support.certs import make_ca, make_leaf
from tests.support.peers import ROOT, Daemon, wait_for, write_config

START_TIMEOUT_S = 60
"""Far longer than a failing start takes; reaching it means the process hung."""
NOT_UTF8 = b"\xff\xfe"

SYNTHETIC = '[[devices]]\nid = "load"\nkind = "synthetic"\nrate = 50\n'


def storegw(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the real CLI; a hang raises TimeoutExpired (and the process is killed)."""
    return subprocess.run([sys.executable, "-m", "gateway.cli.main", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=START_TIMEOUT_S)


def nested_arrays(depth: int) -> str:
    """A TOML line with ``depth`` nested arrays (the parser recurses once per level)."""
    return f"a = {'[' * depth}1{']' * depth}\n"


@dataclass
class Fault:
    """One way a config can make the start fail."""

    name: str
    make: Callable[[Path], tuple[Path, list[str]]]
    """Writes the config (and its files) under a folder; returns it and what the sentence must name."""
    key: str
    """The key `config check` blames; empty when only starting can tell."""
    code: int = 2


def base(tmp: Path, *, mqtt: str = "", extra: str = "", url: str | None = None,
         data_dir: Path | str | None = None) -> Path:
    """A config whose broker nobody answers (a start must not need one)."""
    return write_config(tmp / "c.toml", port=free_port(), data_dir=Path(data_dir or tmp / "data"),
                        mqtt_extra=mqtt, devices=extra, url=url)


def password_not_utf8(tmp: Path) -> tuple[Path, list[str]]:
    """A password file that is not UTF-8 text."""
    (tmp / "pw").write_bytes(NOT_UTF8)
    return base(tmp, mqtt=f'username = "u"\npassword_file = "{tmp / "pw"}"'), [str(tmp / "pw"), "UTF-8"]


def password_is_a_directory(tmp: Path) -> tuple[Path, list[str]]:
    """A password file that is a directory."""
    (tmp / "pw").mkdir()
    return base(tmp, mqtt=f'username = "u"\npassword_file = "{tmp / "pw"}"'), [str(tmp / "pw"), "directory"]


def socket_path_too_long(tmp: Path) -> tuple[Path, list[str]]:
    """A status socket path over the 107 bytes a Unix socket can have."""
    path = tmp / ("s" * 120 + ".sock")
    return base(tmp, extra=f'[diag]\nsocket = "{path}"\n'), [str(path), "107"]


def socket_folder_missing(tmp: Path) -> tuple[Path, list[str]]:
    """A status socket in a folder that does not exist."""
    return base(tmp, extra=f'[diag]\nsocket = "{tmp / "nope" / "s.sock"}"\n'), [str(tmp / "nope")]


def socket_path_is_a_file(tmp: Path) -> tuple[Path, list[str]]:
    """A status socket path that names an existing file (starting would delete it)."""
    (tmp / "notes.txt").write_text("keep me")
    return base(tmp, extra=f'[diag]\nsocket = "{tmp / "notes.txt"}"\n'), [str(tmp / "notes.txt"), "not a socket"]


def data_dir_is_a_file(tmp: Path) -> tuple[Path, list[str]]:
    """A data_dir that is a file."""
    (tmp / "data").write_text("")
    return base(tmp), [str(tmp / "data"), "not a directory"]


def data_dir_under_a_file(tmp: Path) -> tuple[Path, list[str]]:
    """A data_dir below a file."""
    (tmp / "file").write_text("")
    return base(tmp, data_dir=tmp / "file" / "data"), [str(tmp / "file")]


def ca_missing(tmp: Path) -> tuple[Path, list[str]]:
    """A CA file that does not exist."""
    return base(tmp, url=f"mqtts://127.0.0.1:{free_port()}", mqtt=f'ca_file = "{tmp / "ca.pem"}"'), \
        [str(tmp / "ca.pem"), "No such file"]


def ca_not_pem(tmp: Path) -> tuple[Path, list[str]]:
    """A CA file that is not PEM (DER bytes, say)."""
    (tmp / "ca.der").write_bytes(b"\x30\x82\x01\x0a" + bytes(range(256)))
    return base(tmp, url=f"mqtts://127.0.0.1:{free_port()}", mqtt=f'ca_file = "{tmp / "ca.der"}"'), \
        [str(tmp / "ca.der"), "PEM"]


def tls_client(tmp: Path, *, key: Path | None = None, password: bytes | None = None,
               password_file: bytes | None = None) -> Path:
    """A config with a client certificate; the key and its password file can be swapped for bad ones."""
    ca, ca_key, ca_cert = make_ca(tmp, "ca")
    cert, good_key = make_leaf(tmp, "client", ca_key, ca_cert, server=False, password=password)
    mqtt = f'ca_file = "{ca}"\ncert_file = "{cert}"\nkey_file = "{key or good_key}"'
    if password_file is not None:
        (tmp / "kp").write_bytes(password_file)
        mqtt += f'\nkey_password_file = "{tmp / "kp"}"'
    return base(tmp, url=f"mqtts://127.0.0.1:{free_port()}", mqtt=mqtt)


def key_not_pem(tmp: Path) -> tuple[Path, list[str]]:
    """A key file with no PEM key in it."""
    (tmp / "bad.key").write_text("not a key\n")
    return tls_client(tmp, key=tmp / "bad.key"), [str(tmp / "bad.key"), "private key"]


def key_of_another_certificate(tmp: Path) -> tuple[Path, list[str]]:
    """A key that does not belong to the certificate."""
    _, other_key, other_cert = make_ca(tmp, "other")
    _, stray = make_leaf(tmp, "stray", other_key, other_cert, server=False)
    return tls_client(tmp, key=stray), [str(stray), "not the key of"]


def key_password_wrong(tmp: Path) -> tuple[Path, list[str]]:
    """An encrypted key with the wrong password in key_password_file."""
    return tls_client(tmp, password=b"right-one", password_file=b"wrong-one\n"), [str(tmp / "client.key"),
                                                                                  "key_password_file"]


def config_not_utf8(tmp: Path) -> tuple[Path, list[str]]:
    """A config file that is not UTF-8."""
    config = base(tmp)
    config.write_bytes(config.read_bytes() + b"# caf\xe9\n")
    return config, [str(config), "UTF-8"]


def config_is_a_directory(tmp: Path) -> tuple[Path, list[str]]:
    """A config path that is a directory."""
    (tmp / "c.toml").mkdir()
    return tmp / "c.toml", [str(tmp / "c.toml"), "directory"]


def config_nested_too_deep(tmp: Path) -> tuple[Path, list[str]]:
    """5,000 nested arrays (RecursionError in the TOML parser)."""
    config = base(tmp)
    config.write_text(nested_arrays(5000) + config.read_text())
    return config, [str(config), "nested"]


def socket_cannot_be_bound(tmp: Path) -> tuple[Path, list[str]]:
    """A socket path config check cannot fault, which fails only once the outbox is open (the old hang)."""
    return base(tmp, extra='[diag]\nsocket = "/proc/storegw-test.sock"\n'), ["/proc/storegw-test.sock"]


def data_dir_cannot_be_created(tmp: Path) -> tuple[Path, list[str]]:
    """A data_dir in a folder where nothing can be created (only root gets past the check to try)."""
    return base(tmp, data_dir="/proc/storegw-test-data"), ["/proc/storegw-test-data"]


FAULTS = [
    Fault("password file not UTF-8", password_not_utf8, "mqtt.password_file"),
    Fault("password file is a directory", password_is_a_directory, "mqtt.password_file"),
    Fault("socket path over 107 bytes", socket_path_too_long, "diag.socket"),
    Fault("socket folder missing", socket_folder_missing, "diag.socket"),
    Fault("socket path is a file", socket_path_is_a_file, "diag.socket"),
    Fault("data_dir is a file", data_dir_is_a_file, "gateway.data_dir"),
    Fault("data_dir below a file", data_dir_under_a_file, "gateway.data_dir"),
    Fault("CA file missing", ca_missing, "mqtt.ca_file"),
    Fault("CA file not PEM", ca_not_pem, "mqtt.ca_file"),
    Fault("key file not PEM", key_not_pem, "mqtt.key_file"),
    Fault("key of another certificate", key_of_another_certificate, "mqtt.key_file"),
    Fault("wrong key password", key_password_wrong, "mqtt.key_file"),
    Fault("config not UTF-8", config_not_utf8, "(file)"),
    Fault("config is a directory", config_is_a_directory, "(file)"),
    Fault("config nested 5,000 deep", config_nested_too_deep, "(syntax)"),
    Fault("socket cannot be bound", socket_cannot_be_bound, "", code=1),
]


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_a_bad_file_at_start_is_one_sentence_and_an_exit(tmp_path: Path, fault: Fault) -> None:
    config, names = fault.make(tmp_path)
    run = storegw("run", "--config", str(config))
    assert run.returncode == fault.code, run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    sentence = run.stderr.strip().splitlines()[-1]
    assert sentence.startswith("storegw: "), run.stderr
    for name in names:
        assert name in sentence, sentence
    if fault.code == 2:  # a config problem: it is all that was said
        assert run.stderr.strip() == sentence
    check = storegw("config", "check", str(config))
    if fault.key:
        assert check.returncode == 2, check.stdout + check.stderr
        assert re.match(rf"{re.escape(str(config))}:\d+: {re.escape(fault.key)}: ", check.stderr), check.stderr
        assert all(name in check.stderr for name in names), check.stderr
    else:
        assert check.returncode == 0, check.stderr
    if fault.make is socket_path_is_a_file:
        assert (tmp_path / "notes.txt").read_text() == "keep me", "a file in the socket's place must be left alone"


def test_a_data_dir_that_cannot_be_created_is_one_sentence_and_an_exit(tmp_path: Path) -> None:
    config, names = data_dir_cannot_be_created(tmp_path)
    run = storegw("run", "--config", str(config))
    # root gets past the check and fails creating it (exit 1); anyone else is stopped by the check (exit 2)
    assert run.returncode == (1 if os.geteuid() == 0 else 2), run.stderr
    assert "Traceback" not in run.stderr
    sentence = run.stderr.strip().splitlines()[-1]
    assert sentence.startswith("storegw: ") and names[0] in sentence and "data_dir" in sentence, sentence


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_data_dir_that_is_not_writable_is_refused_before_starting(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir(mode=0o500)
    config = base(tmp_path)
    run = storegw("run", "--config", str(config))
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert "not writable" in run.stderr and str(tmp_path / "data") in run.stderr


def last_seq(socket: Path) -> int:
    """The daemon's last committed sequence number, or -1 when it does not answer."""
    try:
        return int(request_status(str(socket))["outbox"]["last_seq"])
    except Exception:
        return -1


def test_a_bad_reload_keeps_the_running_config_and_the_daemon_commits_on(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    config = base(tmp_path, mqtt=f'username = "u"\npassword_file = "{secret}"', extra=SYNTHETIC)
    good = config.read_text()
    socket = tmp_path / "data" / "storegw.sock"
    daemon = Daemon(config).start()
    try:
        wait_for(lambda: last_seq(socket) > 20, what="the synthetic device's events committed")
        breakages: list[tuple[Callable[[], None], str]] = [
            (lambda: config.write_text(nested_arrays(5000) + good), "nested too deeply"),
            (lambda: (config.write_text(good), secret.write_bytes(NOT_UTF8)), "UTF-8"),
            (lambda: (secret.write_text("s3cret\n"), config.write_bytes(good.encode() + b"# caf\xe9\n")), "UTF-8"),
        ]
        for count, (breakage, why) in enumerate(breakages, start=1):
            breakage()
            daemon.signal(signal.SIGHUP)
            wait_for(lambda: daemon.log().count("reload refused") >= count,  # noqa: B023
                     what=f"reload #{count} refused")
            said = [line for line in daemon.log().splitlines() if "reload refused" in line][-1]
            assert why in said and str(config) in said, said
            before = last_seq(socket)
            assert before > 0, "the status socket must still answer"
            wait_for(lambda: last_seq(socket) > before + 20, what=f"commits after the refused reload #{count}")  # noqa: B023
        config.write_text(good + '\n[[devices]]\nid = "load2"\nkind = "synthetic"\nrate = 10\n')
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: "load2" in request_status(str(socket))["devices"], what="a good reload applied after")
        assert daemon.alive()
    finally:
        code = daemon.terminate()
    assert code == 0
    assert "Traceback" not in daemon.log() and "s3cret" not in daemon.log()
