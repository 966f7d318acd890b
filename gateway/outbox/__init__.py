"""The durable outbox between pipelines and the publisher."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.outbox.floor import ClockUntrusted
from gateway.outbox.quota import QuotaPolicy, RamQueue, quota_policy
from gateway.outbox.rows import Draft, Row

if TYPE_CHECKING:
    from gateway.outbox.store import Outbox

__all__ = ["ClockUntrusted", "Draft", "Outbox", "QuotaPolicy", "RamQueue", "Row", "quota_policy"]


def __getattr__(name: str) -> Any:
    """Outbox on first use: CLI verbs that only read figures (`outbox stats`) do not load aiosqlite."""
    if name == "Outbox":
        from gateway.outbox.store import Outbox

        return Outbox
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
