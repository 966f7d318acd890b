"""The outbox's single connection, the lock every user of it takes, and the one way to write in a transaction.

One aiosqlite connection does everything (two writers fail with SQLITE_BUSY_SNAPSHOT), in WAL
mode with ``synchronous=FULL`` (see schema.PRAGMAS). Every write after connecting goes through
``transaction()`` (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on any exception, under the lock).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from typing import Any

import aiosqlite

from gateway.outbox.errors import DatabaseClosed
from gateway.outbox.schema import META, PRAGMAS, SAVE_COUNTER, SAVE_META, SCHEMA, USED_BYTES


class Database:
    """The connection to the outbox file (None while closed) and the lock that serialises its users."""

    def __init__(self, path: str) -> None:
        """The database at ``path``, not connected yet."""
        self.path = path
        self.conn: aiosqlite.Connection | None = None
        self.lock = asyncio.Lock()

    async def connect(self) -> aiosqlite.Connection:
        """Open the connection with the durability settings and make sure the schema exists."""
        self.conn = await aiosqlite.connect(self.path, isolation_level=None)
        for pragma in PRAGMAS:
            await self.conn.execute(pragma)
        await self.conn.executescript(f"BEGIN;{SCHEMA}COMMIT;")  # atomic: readers never see half a schema
        return self.conn

    async def close(self) -> None:
        """Close the connection, whatever state it is in (the caller holds the lock if others may be using it)."""
        conn, self.conn = self.conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    def open_conn(self) -> aiosqlite.Connection:
        """The connection; raises DatabaseClosed when there is none."""
        if self.conn is None:
            raise DatabaseClosed("the outbox database is not open")
        return self.conn

    @contextlib.asynccontextmanager
    async def locked(self) -> AsyncIterator[aiosqlite.Connection]:
        """The connection, held alone for the block (outside any explicit transaction)."""
        async with self.lock:
            yield self.open_conn()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT under the lock; ROLLBACK on any exception (a cancel too), which is re-raised."""
        async with self.lock:
            conn = self.open_conn()
            await conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                await conn.execute("COMMIT")
            except BaseException:
                if self.conn is not None and self.conn.in_transaction:
                    with contextlib.suppress(Exception):
                        await self.conn.execute("ROLLBACK")
                raise

    async def write(self, sql: str, args: Iterable[Any] = ()) -> int:
        """Run one writing statement in a transaction of its own; returns the rows it changed."""
        async with self.transaction() as conn:
            cur = await conn.execute(sql, tuple(args))
            return cur.rowcount

    async def meta(self, key: str, default: str) -> str:
        """Read one meta value."""
        async with self.locked() as conn, conn.execute(META, (key,)) as cur:
            row = await cur.fetchone()
        return row[0] if row else default

    async def set_meta(self, key: str, value: str) -> None:
        """Write one meta value."""
        await self.write(SAVE_META, (key, value))

    async def used_bytes(self) -> int:
        """Bytes in use by the database: its pages that are not free."""
        async with self.locked() as conn, conn.execute(USED_BYTES) as cur:
            pages, free, size = await cur.fetchone()  # type: ignore[misc]
        return (pages - free) * size


async def write_counters(conn: aiosqlite.Connection, values: dict[str, int]) -> None:
    """Persist flat counters (inside the caller's transaction)."""
    await conn.executemany(SAVE_COUNTER, list(values.items()))
