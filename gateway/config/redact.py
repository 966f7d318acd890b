"""Credentials never leave the box: user:password@ inside any URL is replaced by ***@.

Camera sources are often `rtsp://user:password@host/stream`; the same text can reach `cmd/config`,
`storegw status`, `doctor`, the health event and the logs, so each of those passes through here.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

REDACTED = "***"
SECRET_FILE_KEYS = ("password_file", "key_password_file", "member_key_file")
"""Keys whose value names a secret file: their paths are shown as "(set)", never as themselves."""

# scheme://USERINFO@ : the userinfo runs to the last "@" before the host's end (/ ? # or a space),
# which is how FFmpeg splits an unencoded "@" in a password too. A double quote ends it, so a URL
# inside JSON is never joined to the text after it.
_USERINFO = re.compile(r"""(?i)\b([a-z][a-z0-9+.\-]*://)[^\s/?#"<>\\{}|\[\]`]*@""")
# ...?password=SECRET&...: cameras that take their credentials in the query string
_QUERY_SECRET = re.compile(r"""(?i)([?&;](?:password|passwd|pwd|pass|pw|token|access_token|secret|auth|"""
                           r"""api_?key|key|sig|signature)=)[^&#;\s"']*""")


def redact_url(text: str) -> str:
    """``text`` with the userinfo, and secret-looking query values, of every URL in it replaced by ***."""
    if "://" not in text:
        return text
    if "@" in text:
        text = _USERINFO.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)
    if "=" in text:
        text = _QUERY_SECRET.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return text


def redact_tree(value: Any) -> Any:
    """A copy of plain data (dicts, lists, strings...) with every string passed through redact_url."""
    if isinstance(value, str):
        return redact_url(value)
    if isinstance(value, dict):
        return {key: redact_tree(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_tree(item) for item in value]
    return value


def redacted_config(config: Any) -> dict[str, Any]:
    """A config (or it as plain data) for showing off the box: URL credentials and secret file paths hidden."""
    plain = redact_tree(msgspec.to_builtins(config))

    def hide(table: Any) -> None:
        """Replace secret file paths in one table by "(set)"."""
        if isinstance(table, dict):
            for key in SECRET_FILE_KEYS:
                if table.get(key):
                    table[key] = "(set)"

    hide(plain.get("mqtt"))
    for device in plain.get("devices") or []:
        hide(device)
    return plain  # type: ignore[no-any-return]
