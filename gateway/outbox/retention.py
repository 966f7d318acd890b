"""What the outbox keeps: delivered rows for a while, undelivered ones up to an age, all within the disk quota."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from gateway.outbox import floor
from gateway.outbox.database import Database, write_counters
from gateway.outbox.ledger import Ledger
from gateway.outbox.quota import QuotaPolicy

log = logging.getLogger("storegw.outbox")

PRUNE_CHUNK = 5000
"""Rows deleted per statement, so that readers get the connection in between."""
QUOTA_CHUNK = 2000
QUOTA_TARGET = 0.9
"""Enforcing the quota frees room down to this share of it, so that it is not enforced at every commit."""


class Retention:
    """Age-based pruning and quota enforcement, counting every undelivered event it drops."""

    def __init__(self, path: str, database: Database, ledger: Ledger, quota: QuotaPolicy,
                 clock: Callable[[], float], attempt_ended: Callable[[], None]) -> None:
        """Retention of the outbox at ``path`` by ``quota``; ``attempt_ended`` is told of each step that ends."""
        self.path = path
        self.database = database
        self.ledger = ledger
        self.quota = quota
        self.clock = clock
        self.attempt_ended = attempt_ended

    async def maintain(self) -> None:
        """Age-based pruning and quota enforcement; run every few tens of seconds."""
        floor.touch(self.path)
        now = self.clock()
        if self.quota.retain_acked_s >= 0:
            await self.prune_acked(limit=None, older_than=now - self.quota.retain_acked_s)
        if self.quota.max_pending_age_s > 0:
            await self.drop_pending("expired", now - self.quota.max_pending_age_s, None)
        await self.refresh_usage()
        if self.over_quota():
            await self.enforce_quota()

    def over_quota(self) -> bool:
        """Whether the database uses more than its quota."""
        return self.ledger.used_bytes > self.quota.max_bytes

    async def refresh_usage(self) -> None:
        """Read the bytes the database uses into the ledger."""
        self.ledger.used_bytes = await self.database.used_bytes()

    async def prune_acked(self, *, limit: int | None, older_than: float | None) -> int:
        """Delete acked rows (oldest first); returns how many went."""
        where = "acked_at IS NOT NULL" + (" AND acked_at < ?" if older_than is not None else "")
        args: tuple[Any, ...] = (older_than,) if older_than is not None else ()
        sql = f"DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE {where} ORDER BY seq LIMIT ?)"
        total = 0
        while True:
            chunk = PRUNE_CHUNK if limit is None else min(PRUNE_CHUNK, limit - total)
            if chunk <= 0:
                break
            removed = await self.database.write(sql, (*args, chunk))
            total += removed
            self.attempt_ended()
            if removed < chunk:
                break
        return total

    async def enforce_quota(self) -> None:
        """Bring the database under its quota: acked rows first, then the drop policy."""
        target = int(self.quota.max_bytes * QUOTA_TARGET)
        while self.ledger.used_bytes > target and await self.prune_acked(limit=QUOTA_CHUNK, older_than=None):
            await self.refresh_usage()
        for kind in [*self.quota.drop_order, None]:
            while self.ledger.used_bytes > target:
                if not await self.drop_pending("quota", None, kind, limit=QUOTA_CHUNK):
                    break
                await self.refresh_usage()
        if self.over_quota():
            log.error("outbox is over its quota (%d > %d bytes) with nothing left to drop",
                      self.ledger.used_bytes, self.quota.max_bytes)

    async def drop_pending(self, reason: str, created_before: float | None, kind: str | None,
                           limit: int = PRUNE_CHUNK) -> int:
        """Delete undelivered rows, oldest first, counting each drop by reason and type."""
        conditions = ["acked_at IS NULL"]
        args: list[Any] = []
        if created_before is not None:
            conditions.append("created < ?")
            args.append(created_before)
        if kind is not None:
            conditions.append("type = ?")
            args.append(kind)
        where = " AND ".join(conditions)
        async with self.database.transaction() as conn:
            async with conn.execute(
                    f"SELECT type, count(*) FROM (SELECT type FROM events WHERE {where} ORDER BY seq "
                    f"LIMIT ?) GROUP BY type", (*args, limit)) as cur:
                by_type = dict(await cur.fetchall())
            cur = await conn.execute(
                f"DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE {where} ORDER BY seq LIMIT ?)",
                (*args, limit))
            removed = cur.rowcount
            counted = self.ledger.counters.flat()
            for name, count in by_type.items():
                key = f"dropped.{reason}:{name}"
                counted[key] = counted.get(key, 0) + int(count)
            await write_counters(conn, counted)
        for name, count in by_type.items():  # counted in RAM only once the deletion is durable
            self.ledger.counters.add_dropped(f"{reason}:{name}", int(count))
        self.attempt_ended()
        self.ledger.rows_gone(removed)
        if removed:
            log.warning("outbox dropped %d undelivered events (%s%s)", removed, reason,
                        f", type {kind}" if kind else "")
        return removed
