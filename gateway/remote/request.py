"""A cmd/config-apply request turned into a checked Config and the TOML text to store, or every reason it is refused.

The request's ``config`` is the config's own shape as a JSON object, or the TOML text of a config file.
It is checked exactly as `storegw config check` checks a file (parse_config with the extras check,
plus the daemon's own data_dir check), with the local config file standing in as the file: relative
paths in it (ca_file, cert_file, key_file, password files, member_key_file) resolve against the
local file's folder, as they would in that file. Errors are "key: what is wrong" strings.

Identity keys (gateway.store_id, gateway.gateway_id, gateway.data_dir) cannot change remotely; a
request that leaves them out gets the running values, so one template can serve a whole fleet.
"""

from __future__ import annotations

import tomllib
from typing import Any

from gateway.config import Config, ConfigError, parse_config
from gateway.config.tomlwrite import dumps

IDENTITY_KEYS = ("store_id", "gateway_id", "data_dir")
VERSION_MAX = 128


class Refused(Exception):
    """A request that changes nothing; ``errors`` lists every reason, each "key: what is wrong"."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def request_version(request: dict[str, Any]) -> str:
    """The backend's version string of the request (any text of 1 to 128 printable characters)."""
    version = request.get("version")
    if not isinstance(version, str) or not version.strip():
        raise Refused(['version: required: a string the backend chooses, e.g. "2026-12-01.3"'])
    if len(version) > VERSION_MAX or not version.isprintable():
        raise Refused([f"version: at most {VERSION_MAX} printable characters"])
    return version


def request_id_of(request: dict[str, Any]) -> str | None:
    """The request's request_id as text, when it has one."""
    value = request.get("request_id")
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None


def _tables(value: Any) -> dict[str, Any]:
    """The request's config as plain tables: a JSON object as it is, a TOML string parsed."""
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, str):
        try:
            return tomllib.loads(value)
        except tomllib.TOMLDecodeError as exc:
            raise Refused([f"(syntax): {exc}"]) from None
        except (RecursionError, ValueError, MemoryError):
            raise Refused(["(syntax): the TOML cannot be read (nested too deeply or a value too large)"]) from None
    raise Refused(["config: required: the config's own tables as a JSON object, or the TOML text of a config file"])


def _nulls(value: Any, path: str) -> list[str]:
    """Every key whose value is JSON null (TOML has none): "key: ..." each."""
    if value is None:
        return [f"{path}: null is not a config value; leave the key out for its default"]
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in _nulls(item, f"{path}.{key}" if path else key)]
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in _nulls(item, f"{path}[{index}]")]
    return []


def _keep_identity(tables: dict[str, Any], running: Config) -> list[str]:
    """Fill the identity keys the request leaves out; refuse the ones it changes."""
    gateway = tables.get("gateway")
    if gateway is None:
        gateway = tables["gateway"] = {}
    if not isinstance(gateway, dict):
        return []  # parse_config says what is wrong with it
    gateway = tables["gateway"] = dict(gateway)
    errors = []
    for key in IDENTITY_KEYS:
        mine = getattr(running.gateway, key)
        if key not in gateway:
            gateway[key] = mine
        elif gateway[key] != mine:
            errors.append(f"gateway.{key}: cannot be changed remotely (this gateway has {mine!r}); "
                          "identity keys change only in the local config file")
    return errors


def problem_text(key: str, message: str) -> str:
    """One error of the answer: "key: what is wrong" (no file or line: the request has none)."""
    return f"{key}: {' '.join(message.split())}"


def remote_config(value: Any, running: Config, local_path: str) -> tuple[Config, str]:
    """The checked Config of a request's ``config`` and its TOML text; Refused with every problem found."""
    tables = _tables(value)
    errors = _keep_identity(tables, running) + _nulls(tables, "")
    if errors:
        raise Refused(errors)
    try:
        text = dumps(tables)
    except TypeError as exc:  # a TOML date or time: no config key takes one
        raise Refused([f"config: {exc}"]) from None
    try:
        config = parse_config(text, local_path, check_extras=True, for_daemon=True)
    except ConfigError as exc:
        raise Refused([problem_text(p.key, p.message) for p in exc.problems]) from None
    return config, text


def stored_config(text: str, local_path: str) -> Config:
    """A stored config's Config, checked as at apply time (ConfigError when it no longer passes)."""
    return parse_config(text, local_path, for_daemon=True)
