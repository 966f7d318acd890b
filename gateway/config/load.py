"""Read a TOML config file into typed objects, reporting every problem with file and line."""

from __future__ import annotations

import errno
import os
import re
import stat
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from gateway.config.files import (
    data_dir_problem,
    key_pair_problem,
    pem_file_problem,
    secret_file_problem,
    socket_path_problem,
    url_problem,
)
from gateway.config.locate import Path, key_lines, line_of
from gateway.config.model import (
    Config,
    DiagSection,
    GatewaySection,
    MqttSection,
    OutboxSection,
    RemoteSection,
)
from gateway.devices import KINDS, AnyDeviceConfig
from gateway.devices.extras import missing_extra_sentence

_SECTIONS: dict[str, Any] = {
    "gateway": GatewaySection,
    "mqtt": MqttSection,
    "outbox": OutboxSection,
    "diag": DiagSection,
    "remote": RemoteSection,
}
_REQUIRED = ("gateway", "mqtt")
_SECRET_FILES = ("password_file", "key_password_file")
_READABLE_FILES = ("ca_file", "cert_file", "key_file", *_SECRET_FILES)
_KINDS_IN_WORDS = f"{', '.join(KINDS[:-1])} or {KINDS[-1]}"  # "serial_counter, ..., ble or camera"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config file."""

    file: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.key}: {self.message}"


class ConfigError(Exception):
    """A config file that cannot be used; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def _dotted(path: Path) -> str:
    """Render a key path the way a person writes it: devices[1].rate."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "(top level)"


def _parse_msgspec_path(text: str) -> tuple[str, Path]:
    """Split msgspec's 'message - at `$.a[0].b`' into the message and a key path."""
    match = re.match(r"^(.*?)(?: - at `\$(.*)`)?$", text, re.S)
    assert match
    message, raw = match.group(1), match.group(2) or ""
    path: list[str | int] = []
    for name, index in re.findall(r"\.([^.\[]+)|\[(\d+)\]", raw):
        path.append(name if name else int(index))
    unknown = re.match(r"Object contains unknown field `(.+)`", message)
    if unknown:
        path.append(unknown.group(1))
        message = "unknown key (is it misspelt, or in the wrong table?)"
    missing = re.match(r"Object missing required field `(.+)`", message)
    if missing:
        path.append(missing.group(1))
        message = "required key is missing"
    return message, tuple(path)


def _convert(value: Any, typ: Any, base: Path, file: str, lines: dict[Path, int],
             problems: list[Problem]) -> Any:
    """Validate one table; on failure record a problem and return None."""
    try:
        return msgspec.convert(value, typ, strict=True)
    except msgspec.ValidationError as exc:
        message, rel = _parse_msgspec_path(str(exc))
        path = (*base, *rel)
        problems.append(Problem(file, line_of(lines, path), _dotted(path), message))
        return None


def _check_files(config: Config, file: str, lines: dict[Path, int], problems: list[Problem],
                 for_daemon: bool = False) -> None:
    """Files and paths named by the config must be usable (secret contents are read, never shown).

    ``for_daemon``: also that data_dir is writable by this process (only the daemon's user matters).
    """

    def report(path: Path, message: str | None) -> bool:
        """Record a problem at ``path`` if there is one; True if there was."""
        if message:
            problems.append(Problem(file, line_of(lines, path), _dotted(path), message))
        return bool(message)

    bad_tls = False
    for key in _READABLE_FILES:
        value = getattr(config.mqtt, key)
        if value:
            full = resolve_path(file, value)
            check = secret_file_problem(full) if key in _SECRET_FILES else pem_file_problem(full, key)
            bad = report(("mqtt", key), check)
            bad_tls = bad_tls or (bad and key in ("cert_file", "key_file", "key_password_file"))
    m = config.mqtt
    if m.cert_file and m.key_file and not bad_tls:
        try:
            password = read_secret(file, m.key_password_file) if m.key_password_file else None
        except OSError as exc:  # changed since it was checked just above
            report(("mqtt", "key_password_file"), f"cannot read {exc.filename!r} ({exc.strerror})")
        else:
            report(("mqtt", "key_file"), key_pair_problem(resolve_path(file, m.cert_file),
                                                          resolve_path(file, m.key_file), password))
    for index, device in enumerate(config.devices):
        key_file = getattr(device, "member_key_file", "")
        if key_file and device.enabled and getattr(device, "member_visits", False):
            report(("devices", index, "member_key_file"), secret_file_problem(resolve_path(file, key_file)))
    data_dir = config.gateway.data_dir
    report(("gateway", "data_dir"), data_dir_problem(data_dir, writable=for_daemon))
    socket = config.diag.socket or os.path.join(data_dir, "storegw.sock")
    report(("diag", "socket") if config.diag.socket else ("gateway", "data_dir"),
           socket_path_problem(socket, data_dir))
    _check_broker_urls(config.mqtt, report)
    if bool(config.mqtt.cert_file) != bool(config.mqtt.key_file):
        path = ("mqtt", "cert_file" if config.mqtt.cert_file else "key_file")
        problems.append(Problem(file, line_of(lines, path), _dotted(path),
                                "cert_file and key_file go together; set both or neither"))
    if config.mqtt.username and not config.mqtt.password_file:
        path = ("mqtt", "username")
        problems.append(Problem(file, line_of(lines, path), "mqtt.username",
                                "a username needs password_file (passwords are never written in the config)"))


def _check_broker_urls(m: MqttSection, report: Callable[[Path, str | None], bool]) -> None:
    """Exactly one of url and urls; every broker URL usable, none twice, TLS files only with mqtts://."""
    if m.url and m.urls:
        report(("mqtt", "urls"), "set url or urls, not both: urls is the failover list, put every broker in it")
        return
    if not m.url and not m.urls:
        report(("mqtt", "url"), 'required key is missing: set url = "mqtt://host[:port]", or urls = [...] '
               "to list brokers to fail over between")
        return
    tls_files = bool(m.cert_file or m.ca_file)
    seen: dict[str, int] = {}
    for index, url in enumerate(m.broker_urls()):
        path: Path = ("mqtt", "urls", index) if m.urls else ("mqtt", "url")
        if report(path, url_problem(url)):
            continue
        if url.startswith("mqtt://") and tls_files:
            report(path, "TLS files are set but the url is mqtt://; use mqtts:// to encrypt")
        if url in seen:
            report(path, f"{url!r} is listed twice (first as urls[{seen[url]}]): list each broker once")
        seen.setdefault(url, index)


def _read_toml(source: str, file: str) -> dict[str, Any]:
    """Parse TOML; anything the parser raises becomes a ConfigError (never a traceback)."""
    try:
        return tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line = int(found.group(1)) if found else 1
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc)) or "invalid TOML"
    except RecursionError:
        line, message = 1, "arrays or inline tables nested too deeply to read: flatten them"
    except (ValueError, MemoryError) as exc:  # e.g. an integer of more than 4300 digits
        line, message = 1, f"a value cannot be read ({str(exc).split(';')[0] or type(exc).__name__}): fix it"
    raise ConfigError([Problem(file, line, "(syntax)", message)]) from None


def parse_config(source: str, file: str = "<config>", check_extras: bool = False,
                 for_daemon: bool = False) -> Config:
    """Validate TOML ``source``; raise ConfigError listing every problem found.

    With ``check_extras``, an enabled device whose kind needs an extra that is not installed is
    a problem too (`config check` asks this; the daemon runs the other devices instead).
    With ``for_daemon``, data_dir must also be writable by this process (see _check_files).
    """
    raw = _read_toml(source, file)
    lines = key_lines(source)
    problems: list[Problem] = []
    sections: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _SECTIONS:
            sections[key] = _convert(value, _SECTIONS[key], (key,), file, lines, problems)
        elif key != "devices":
            problems.append(Problem(file, line_of(lines, (key,)), key,
                                    f"unknown table; known: {', '.join([*_SECTIONS, 'devices'])}"))
    for key in _REQUIRED:
        if key not in raw:
            problems.append(Problem(file, 1, key, f"required table [{key}] is missing"))
    devices: list[Any] = []
    raw_devices = raw.get("devices", [])
    if not isinstance(raw_devices, list):
        problems.append(Problem(file, line_of(lines, ("devices",)), "devices",
                                "must be an array of tables: write [[devices]]"))
        raw_devices = []
    seen: dict[str, int] = {}
    for index, device in enumerate(raw_devices):
        base: Path = ("devices", index)
        if not isinstance(device, dict) or "kind" not in device:
            problems.append(Problem(file, line_of(lines, base), _dotted((*base, "kind")),
                                    f"every device needs a kind: {_KINDS_IN_WORDS}"))
            continue
        if device["kind"] not in KINDS:
            path = (*base, "kind")
            problems.append(Problem(file, line_of(lines, path), _dotted(path),
                                    f"unknown kind {device['kind']!r}: the kinds are {_KINDS_IN_WORDS}"))
            continue
        converted = _convert(device, AnyDeviceConfig, base, file, lines, problems)
        if converted is None:
            continue
        if converted.id in seen:
            path = (*base, "id")
            first = seen[converted.id]
            problems.append(Problem(file, line_of(lines, path), _dotted(path),
                                    f"duplicate device id {converted.id!r} (first used by devices[{first}])"))
        seen[converted.id] = index
        devices.append(converted)
        if check_extras and converted.enabled:
            lacking = missing_extra_sentence(converted.id, converted.kind)
            if lacking is not None:
                path = (*base, "kind")
                problems.append(Problem(file, line_of(lines, path), _dotted(path), lacking))
    if not problems:  # device indices below are the file's only while every device converted
        _check_badge_scanners(devices, file, lines, problems)
        _check_shop_fronts(devices, file, lines, problems)
        _check_occupancy_groups(devices, file, lines, problems)
    if problems:
        raise ConfigError(problems)
    config = Config(gateway=sections["gateway"], mqtt=sections["mqtt"],
                    outbox=sections.get("outbox") or OutboxSection(),
                    diag=sections.get("diag") or DiagSection(),
                    remote=sections.get("remote") or RemoteSection(), devices=devices)
    _check_files(config, file, lines, problems, for_daemon)
    if problems:
        raise ConfigError(problems)
    return config


def _check_badge_scanners(devices: list[Any], file: str, lines: dict[Path, int], problems: list[Problem]) -> None:
    """A staff.badge_scanner (camera line, serial counter) must name a ble device: a typo would turn badges off."""
    scanners = [device.id for device in devices if device.kind == "ble"]
    for index, device in enumerate(devices):
        # (staff block, its key path): a serial counter's own, and each camera line's
        blocks: list[tuple[Any, Path]] = [(getattr(line, "staff", None), ("devices", index, "lines", number, "staff"))
                                          for number, line in enumerate(getattr(device, "lines", None) or [])]
        if device.kind == "serial_counter":
            blocks.append((getattr(device, "staff", None), ("devices", index, "staff")))
        for staff, where in blocks:
            if staff is None or not staff.badge_uuid or staff.badge_scanner in scanners:
                continue
            path: Path = (*where, "badge_scanner")
            known = ", ".join(scanners) if scanners else "there is none: add a [[devices]] of kind ble"
            problems.append(Problem(file, line_of(lines, path), _dotted(path),
                                    f"{staff.badge_scanner!r} is not the id of a ble device ({known})"))


def _check_occupancy_groups(devices: list[Any], file: str, lines: dict[Path, int], problems: list[Problem]) -> None:
    """Devices sharing an occupancy_name keep one count: its reset time and limit cannot differ between them.

    One setting a key and the others leaving it out is fine (the set one applies to the count); a disabled
    device counts nothing and is left out.
    """
    first: dict[tuple[str, str], tuple[int, Any]] = {}
    for index, device in enumerate(devices):
        if not device.enabled or not getattr(device, "counts_store_occupancy", False):
            continue
        name = device.occupancy_name
        for key in ("occupancy_reset_at", "occupancy_limit"):
            value = getattr(device, key)
            if value is None:
                continue
            seen = first.setdefault((name, key), (index, value))
            if seen[1] == value:
                continue
            path: Path = ("devices", index, key)
            problems.append(Problem(file, line_of(lines, path), _dotted(path),
                                    f"{value!r} differs from devices[{seen[0]}] ({devices[seen[0]].id}: {seen[1]!r}), "
                                    f"which counts the same store occupancy {name!r}: set the same value on both, or "
                                    "on one only, or give one of them another occupancy_name"))


def _check_shop_fronts(devices: list[Any], file: str, lines: dict[Path, int], problems: list[Problem]) -> None:
    """A serial counter's shop_front must name another serial counter: a typo would leave passers-by out silently."""
    counters = [device.id for device in devices if device.kind == "serial_counter"]
    for index, device in enumerate(devices):
        front = getattr(device, "shop_front", "") if device.kind == "serial_counter" else ""
        if not front or (front in counters and front != device.id):
            continue
        path: Path = ("devices", index, "shop_front")
        others = ", ".join(c for c in counters if c != device.id) or "there is none: add the outside counter"
        what = "this counter itself" if front == device.id else "not the id of a serial counter"
        problems.append(Problem(file, line_of(lines, path), _dotted(path),
                                f"{front!r} is {what}; name the serial_counter across the shop front ({others})"))


def load_config(file: str, check_extras: bool = False, for_daemon: bool = False) -> Config:
    """Read and validate the config file at ``file`` (``check_extras``, ``for_daemon``: see parse_config)."""
    try:
        if not stat.S_ISREG(os.stat(file).st_mode):
            what = "a directory" if os.path.isdir(file) else "not a regular file"
            raise ConfigError([Problem(file, 0, "(file)", f"is {what}, not a config file: name the TOML file")])
        with open(file, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ConfigError([Problem(file, 0, "(file)", f"cannot read the config ({exc.strerror}): "
                                   "check the path and its permissions")]) from None
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError([Problem(file, line, "(file)", "not UTF-8 text: save the config as UTF-8")]) from None
    return parse_config(source, file, check_extras, for_daemon)


def resolve_path(config_file: str, value: str) -> str:
    """A path from the config, relative to the config file's folder unless absolute."""
    if not value or os.path.isabs(value):
        return value
    return os.path.join(os.path.dirname(os.path.abspath(config_file)), value)


def read_secret(config_file: str, value: str) -> str:
    """Read a secret file named in the config; strips one trailing newline. Never logged.

    Every failure is an OSError naming the file (text that is not UTF-8 too: EILSEQ), so callers
    need one ``except OSError`` and never show the content.
    """
    full = resolve_path(config_file, value)
    with open(full, "rb") as handle:
        data = handle.read()
    try:
        return data.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise OSError(errno.EILSEQ, "not UTF-8 text; write the secret in it as UTF-8", full) from None
