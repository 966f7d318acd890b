"""What the outbox keeps, for how long, and what goes first when the disk quota is reached."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class QuotaPolicy:
    """Retention and drop policy of the outbox (from the `[outbox]` config table)."""

    max_bytes: int = 1_000_000_000
    retain_acked_s: float = 7 * 86400
    max_pending_age_s: float = 0.0
    drop_order: tuple[str, ...] = field(default=("synthetic", "health"))
