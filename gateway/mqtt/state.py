"""The retained `.../state` message of a gateway: the birth, the offline state and the will."""

from __future__ import annotations

import json
import time
from typing import Any

from gateway import __version__
from gateway.buildinfo import commit


def state_payload(online: bool, boot: int, version: str, commit: str, reason: str | None = None,
                  stamped: bool = True) -> bytes:
    """The retained `.../state` payload (the will is not stamped: the broker sends it later)."""
    body: dict[str, Any] = {"online": online, "boot": boot, "version": version, "commit": commit}
    if stamped:
        body["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if reason:
        body["reason"] = reason
    return json.dumps(body).encode()


def birth_payload(boot: int) -> bytes:
    """`{online: true, boot}` of this build, published on every connect and on cmd/rebirth."""
    return state_payload(True, boot, __version__, commit())


def offline_payload(boot: int, reason: str) -> bytes:
    """The offline state a graceful stop publishes, saying why (shutdown, reconfiguring, start failed)."""
    return state_payload(False, boot, __version__, commit(), reason)


def will_payload(boot: int) -> bytes:
    """The will the broker publishes when the connection is lost without a graceful stop."""
    return state_payload(False, boot, __version__, commit(), "connection lost", stamped=False)
