"""Config validation: every problem as FILE:LINE: key: message, exit 2 from `config check`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config import ConfigError, load_config, parse_config
from gateway.config.locate import key_lines
from gateway.config.schema import config_schema
from gateway.config.tomlwrite import dumps
from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT

BAD = """\
[gateway]
store_id = "store-1"
gateway_id = "gw 1"

[mqtt]
url = "mqtt://localhost:1883"
bogus = 1

[[devices]]
id = "a"
kind = "synthetic"
rate = -3

[[devices]]
id = "b"
kind = "serial_counter"
protocol = "modbus"
port = "/dev/ttyUSB0"

[[devices]]
id = "c"
kind = "teleporter"
"""


def problems_of(text: str) -> list[str]:
    """Every problem line for a config text."""
    with pytest.raises(ConfigError) as info:
        parse_config(text, "store.toml")
    return [str(p) for p in info.value.problems]


def test_every_problem_is_reported_with_its_line_and_key() -> None:
    problems = problems_of(BAD)
    assert problems[0].startswith("store.toml:3: gateway.gateway_id: ")
    assert "store.toml:7: mqtt.bogus: unknown key" in problems[1]
    assert problems[2].startswith("store.toml:12: devices[0].rate: ") and "> 0" in problems[2]
    assert problems[3].startswith("store.toml:17: devices[1].protocol: ")
    assert problems[4].startswith("store.toml:22: devices[2].kind: ")
    assert len(problems) == 5


def test_syntax_error_names_the_line() -> None:
    problems = problems_of('[gateway]\nstore_id = "x"\ngateway_id = \n')
    assert problems[0].startswith("store.toml:3: (syntax): ")


def test_missing_tables_and_duplicate_ids() -> None:
    assert any("required table [mqtt]" in p for p in problems_of('[gateway]\nstore_id="a"\ngateway_id="b"\n'))
    text = ('[gateway]\nstore_id="a"\ngateway_id="b"\n[mqtt]\nurl="mqtt://h"\n'
            '[[devices]]\nid="x"\nkind="synthetic"\n[[devices]]\nid="x"\nkind="synthetic"\n')
    assert problems_of(text) == ["store.toml:10: devices[1].id: duplicate device id 'x' (first used by devices[0])"]


def test_secret_files_are_checked_but_never_shown(tmp_path: Path) -> None:
    secret = tmp_path / "pass"
    secret.write_text("hunter2-very-secret\n")
    text = (f'[gateway]\nstore_id="a"\ngateway_id="b"\n[mqtt]\nurl="mqtt://h"\nusername="u"\n'
            f'password_file="{secret}"\n')
    config = parse_config(text, str(tmp_path / "c.toml"))
    assert config.mqtt.password_file == str(secret)
    missing = problems_of(text.replace(str(secret), str(tmp_path / "nope")))
    assert "password_file: cannot read" in missing[0]
    assert all("hunter2" not in p for p in missing)


def test_config_check_cli_exit_codes(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(BAD)
    run = subprocess.run([sys.executable, "-m", "gateway.cli.main", "config", "check", str(bad)],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 2
    assert f"{bad}:7: mqtt.bogus:" in run.stderr
    good = subprocess.run([sys.executable, "-m", "gateway.cli.main", "config", "check",
                           str(ROOT / "config" / "demo.toml")], capture_output=True, text=True, cwd=ROOT)
    assert good.returncode == 0, good.stderr


def test_committed_schema_matches_the_model_and_accepts_the_examples() -> None:
    import tomllib

    import jsonschema

    committed = json.loads((ROOT / "config" / "schema.json").read_text())
    assert committed == config_schema(), "run: storegw config schema > config/schema.json"
    example = tomllib.loads((ROOT / "config" / "store.example.toml").read_text())
    jsonschema.validate(example, committed)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**example, "mqtt": {**example["mqtt"], "protocol": "4"}}, committed)


def test_example_config_is_valid_apart_from_files_on_this_machine() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(str(ROOT / "config" / "store.example.toml"))
    assert all("cannot read" in p.message for p in info.value.problems)


def test_key_lines_follow_tables_arrays_and_multiline_values() -> None:
    text = 'a = """\nx = 1\n"""\n[t]\nk = [\n 1,\n]\nz = 2\n[[d]]\nq = 1\n[[d]]\nq = 2\n"quoted.key" = 3\n'
    lines = key_lines(text)
    assert lines[("a",)] == 1 and ("x",) not in lines
    assert lines[("t", "z")] == 8
    assert lines[("d", 1, "q")] == 12
    assert lines[("d", 1, "quoted.key")] == 13


def test_toml_writer_round_trips_through_the_validator() -> None:
    import tomllib

    data = {"gateway": {"store_id": "s", "gateway_id": "g", "data_dir": "/tmp/x"}, "mqtt": {"url": "mqtt://h:1"},
            "devices": [{"id": "d", "kind": "synthetic", "rate": 5.0}, {"id": "e", "kind": "synthetic"}]}
    text = dumps(data)
    assert tomllib.loads(text) == data
    assert [d.id for d in parse_config(text).devices] == ["d", "e"]


BASE = '[gateway]\nstore_id="a"\ngateway_id="b"\ndata_dir="{data}"\n[mqtt]\nurl="mqtt://h"\n'


@pytest.mark.parametrize(("value", "says"), [
    ("[" * 5000 + "1" + "]" * 5000, "nested too deeply"),  # RecursionError inside tomllib
    ("1" * 5000, "4300 digits"),  # ValueError inside tomllib
])
def test_what_the_toml_parser_raises_is_a_problem_not_a_traceback(value: str, says: str) -> None:
    problems = problems_of(BASE.format(data="/tmp/x") + f"a = {value}\n")
    assert len(problems) == 1 and problems[0].startswith("store.toml:1: (syntax): ") and says in problems[0]


def test_a_config_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_bytes(BASE.format(data=tmp_path).encode() + b"# caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_config(str(config))
    assert str(info.value) == f"{config}:7: (file): not UTF-8 text: save the config as UTF-8"


def test_secret_files_must_be_utf8_plain_files_and_are_never_shown(tmp_path: Path) -> None:
    (tmp_path / "pw").write_bytes(b"\xffhunter2")
    (tmp_path / "member.key").mkdir()
    os.mkfifo(tmp_path / "fifo")  # reading it would block the start for ever
    text = (BASE.format(data=tmp_path / "data") + f'username="u"\npassword_file="{tmp_path / "pw"}"\n'
            f'key_password_file="{tmp_path / "fifo"}"\n'
            '[[devices]]\nid="ble"\nkind="ble"\nmember_visits=true\n'
            'member_app_uuids=["01234567-89ab-cdef-0123-456789abcdef"]\nmember_key_file="member.key"\n')
    problems = problems_of_file(tmp_path, text)
    assert any(p.startswith(f"{tmp_path}/c.toml:8: mqtt.password_file: ") and "not UTF-8" in p for p in problems)
    assert any(":9: mqtt.key_password_file: " in p and "not a regular file" in p for p in problems)
    assert any(":15: devices[0].member_key_file: " in p and "is a directory" in p for p in problems)
    assert all("hunter2" not in p for p in problems)


def test_socket_and_data_dir_paths_are_checked(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    long_dir = tmp_path / ("d" * 110)
    problems = problems_of_file(tmp_path, BASE.format(data=long_dir))
    assert problems == [f"{tmp_path}/c.toml:4: gateway.data_dir: the status socket path "
                        f"'{long_dir}/storegw.sock' is {len(str(long_dir)) + 13} bytes, and a Unix socket path can "
                        "have at most 107: set [diag] socket to a shorter path (or use a shorter data_dir)"]
    problems = problems_of_file(tmp_path, BASE.format(data=tmp_path / "file" / "data"))
    assert len(problems) == 1 and "gateway.data_dir: " in problems[0] and "is not a directory" in problems[0]


def problems_of_file(folder: Path, text: str) -> list[str]:
    """Every problem `config check` finds in ``text`` saved as folder/c.toml."""
    config = folder / "c.toml"
    config.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(str(config))
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(("url", "says"), [
    ("mqtt://h:99999", "Port out of range"),  # a ValueError at start before
    ("mqtt://[::1", "Invalid IPv6 URL"),
    ("mqtt://:1883", "names no host"),
    ("mqtt://user:pw@h", "set username and password_file"),
])
def test_broker_urls_that_cannot_be_used_are_problems(url: str, says: str) -> None:
    problems = problems_of(BASE.format(data="/tmp/x").replace('url="mqtt://h"', f'url="{url}"'))
    assert len(problems) == 1 and problems[0].startswith("store.toml:6: mqtt.url: ") and says in problems[0]
    assert "pw" not in problems[0]
