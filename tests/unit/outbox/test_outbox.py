"""The outbox on its own: sequence, acks, quota policy, corruption and restarts."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from pathlib import Path

from gateway.events.types.synthetic import SyntheticData
from gateway.outbox import Outbox, QuotaPolicy, Row


async def filled(path: Path, n: int, *, quota: QuotaPolicy | None = None, name: str = "synthetic",
                 filler: str = "") -> tuple[Outbox, list[Row], asyncio.Task[None]]:
    """An open outbox with ``n`` committed events, its rows and its running writer."""
    outbox = Outbox(str(path), source="/stores/s/gateways/g", quota=quota or QuotaPolicy(), batch_max=300)
    await outbox.open()
    rows: list[Row] = []
    outbox.subscribe(lambda r, d: rows.extend(r))
    task = asyncio.create_task(outbox.run())
    for i in range(n):
        outbox.submit(name, "dev", 1_700_000_000 + i, SyntheticData(n=i, filler=filler), f"t/{name}")
    assert await outbox.flush()
    return outbox, rows, task


async def close(outbox: Outbox, task: asyncio.Task[None]) -> None:
    """Stop the writer and close."""
    task.cancel()
    await outbox.close()


async def test_sequence_is_contiguous_in_order_and_survives_restart(tmp_path: Path) -> None:
    outbox, rows, task = await filled(tmp_path / "o.db", 1000)
    assert [r.seq for r in rows] == list(range(1, 1001))
    payloads = [json.loads(r.payload) for r in rows]
    assert [p["sequence"] for p in payloads[:2]] == ["00000000000000000001", "00000000000000000002"]
    assert payloads[0]["gwboot"] == 1 and payloads[0]["data"] == {"n": 0, "filler": ""}
    await close(outbox, task)
    again, rows2, task2 = await filled(tmp_path / "o.db", 10)
    assert again.boot == 2
    assert [r.seq for r in rows2] == list(range(1001, 1011))
    assert again.pending == 1010
    await close(again, task2)


async def test_acks_reduce_pending_and_pending_reads_skip_acked_rows(tmp_path: Path) -> None:
    outbox, rows, task = await filled(tmp_path / "o.db", 100)
    for row in rows[:60]:
        outbox.ack(row.seq)
    outbox.ack(5)  # a duplicate PUBACK must not count twice
    await outbox.flush()
    assert outbox.pending == 40
    pending = await outbox.read_pending(0, 1000)
    assert [r.seq for r in pending] == list(range(61, 101))
    held = await outbox.read_range(1, 100, 1000)
    assert len(held) == 100, "acked rows stay for replay until retention or quota removes them"
    stats = await outbox.stats()
    assert stats["pending"] == 40 and stats["last_seq"] == 100
    await close(outbox, task)


async def test_quota_removes_acked_rows_first_then_the_drop_order(tmp_path: Path) -> None:
    quota = QuotaPolicy(max_bytes=400_000, drop_order=("synthetic",))
    outbox = Outbox(str(tmp_path / "o.db"), source="/s", quota=quota, batch_max=200)
    await outbox.open()
    task = asyncio.create_task(outbox.run())
    committed: list[tuple[int, str]] = []
    outbox.subscribe(lambda rows, drafts: committed.extend(
        (r.seq, d.name) for r, d in zip(rows, drafts, strict=True)))
    for i in range(300):
        outbox.submit("health", "gw", i, SyntheticData(n=i, filler="h" * 300), "t/health")
    await outbox.flush()
    for seq, _ in committed[:100]:
        outbox.ack(seq)
    await outbox.flush()
    for i in range(2000):
        outbox.submit("synthetic", "dev", i, SyntheticData(n=i, filler="s" * 300), "t/synthetic")
    await outbox.flush()
    stats = await outbox.stats()
    assert stats["bytes"] <= 400_000
    assert stats["dropped"].get("quota:synthetic", 0) > 0
    assert "quota:health" not in stats["dropped"], "health goes only after every synthetic row"
    held = {r.seq for r in await outbox.read_range(1, 10_000, 10_000)}
    assert not held & {seq for seq, _ in committed[:100]}, "acked rows go before any undelivered one"
    assert {seq for seq, _ in committed[100:300]} <= held, "undelivered health rows are kept"
    assert stats["pending"] + stats["dropped"]["quota:synthetic"] == 200 + 2000
    await close(outbox, task)
    reopened = Outbox(str(tmp_path / "o.db"), source="/s", quota=quota)
    await reopened.open()
    assert (await reopened.stats())["dropped"] == stats["dropped"], "drop counters persist"
    await reopened.close()


async def test_ram_queue_overflow_is_counted(tmp_path: Path) -> None:
    outbox = Outbox(str(tmp_path / "o.db"), source="/s", quota=QuotaPolicy(), ram_queue_max=100)
    await outbox.open()
    for i in range(150):  # the writer is not running: the queue fills up
        outbox.submit("synthetic", "dev", i, SyntheticData(n=i), "t")
    assert outbox.queued == 100
    assert outbox.counters.dropped == {"ram:synthetic": 50}
    task = asyncio.create_task(outbox.run())
    await outbox.flush()
    first = json.loads((await outbox.read_pending(0, 1))[0].payload)
    assert first["data"]["n"] == 50, "the oldest events are the ones dropped"
    await close(outbox, task)


async def test_corrupt_file_is_moved_aside_and_sequence_never_reused(tmp_path: Path) -> None:
    outbox, _rows, task = await filled(tmp_path / "o.db", 50)
    await close(outbox, task)
    with open(tmp_path / "o.db", "r+b") as handle:
        handle.write(os.urandom(8192))
    fresh, rows2, task2 = await filled(tmp_path / "o.db", 5)
    assert rows2[0].seq > 50
    assert fresh.counters.recoveries == 1
    assert list(tmp_path.glob("o.db.corrupt-*"))
    await close(fresh, task2)


async def test_deleted_database_continues_past_the_reservation(tmp_path: Path) -> None:
    outbox, _rows, task = await filled(tmp_path / "o.db", 20)
    await close(outbox, task)
    for suffix in ("", "-wal", "-shm"):
        if (tmp_path / f"o.db{suffix}").exists():
            (tmp_path / f"o.db{suffix}").unlink()
    again, rows2, task2 = await filled(tmp_path / "o.db", 3)
    assert rows2[0].seq > 20 and again.boot == 2
    await close(again, task2)


async def test_full_disk_keeps_events_in_ram_and_commits_them_later(tmp_path: Path) -> None:
    outbox, rows, task = await filled(tmp_path / "o.db", 10)
    # SQLite reports SQLITE_FULL when the file may not grow: exactly what a full disk looks like to it.
    async with outbox.database.lock:
        assert outbox.database.conn
        await outbox.database.conn.execute("PRAGMA max_page_count = 1")
    for i in range(500):
        outbox.submit("synthetic", "dev", i, SyntheticData(n=i, filler="x" * 500), "t")
    await asyncio.sleep(0.5)
    stats = await outbox.stats()
    assert stats["write_errors"] >= 1 and "SQLITE_FULL" in (stats["last_error"] or "")
    assert outbox.queued == 500, "nothing is lost while the disk is full"
    async with outbox.database.lock:
        assert outbox.database.conn
        await outbox.database.conn.execute("PRAGMA max_page_count = 1073741823")
    assert await outbox.flush(timeout=20)
    assert outbox.last_seq == 510 and [r.seq for r in rows][-1] == 510
    await close(outbox, task)


async def test_stats_cli_reads_while_the_writer_holds_the_file(tmp_path: Path) -> None:
    from gateway.cli.outbox import read_stats

    outbox, _rows, task = await filled(tmp_path / "o.db", 30)
    outbox.ack(1)
    await outbox.flush()
    stats = read_stats(str(tmp_path / "o.db"))
    assert (stats["last_seq"], stats["pending"], stats["held"]) == (30, 29, 30)
    assert stats["oldest_pending_age_s"] is not None
    await close(outbox, task)
    assert sqlite3.connect(tmp_path / "o.db").execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_age_pruning_removes_old_acked_rows_and_expires_undelivered_ones_counted(tmp_path: Path) -> None:
    now = [1_000_000.0]
    quota = QuotaPolicy(retain_acked_s=3600, max_pending_age_s=7200)
    outbox = Outbox(str(tmp_path / "o.db"), source="/s", quota=quota, clock=lambda: now[0])
    await outbox.open()
    task = asyncio.create_task(outbox.run())
    rows: list[Row] = []
    outbox.subscribe(lambda r, d: rows.extend(r))
    for i in range(10):
        outbox.submit("synthetic", "dev", now[0], SyntheticData(n=i), "t")
    await outbox.flush()
    for row in rows[:4]:
        outbox.ack(row.seq)
    await outbox.flush()
    now[0] += 3000  # acked rows are still within their retention
    await outbox.maintain()
    assert len(await outbox.read_range(1, 100, 100)) == 10
    now[0] += 1000  # acked rows are past retain_acked_s, the rest not yet expired
    await outbox.maintain()
    assert [r.seq for r in await outbox.read_range(1, 100, 100)] == list(range(5, 11))
    now[0] += 4000  # undelivered rows older than max_pending_age_s expire, counted
    await outbox.maintain()
    stats = await outbox.stats()
    assert stats["pending"] == 0 and stats["dropped"] == {"expired:synthetic": 6}
    await close(outbox, task)


async def test_the_writer_stops_when_cancelled_just_as_it_is_woken(tmp_path: Path) -> None:
    # The race that hung SIGTERM: the writer's wake-up event is set and, before the writer runs,
    # shutdown cancels it. Python 3.11's asyncio.wait_for swallowed that cancel.
    outbox, _, task = await filled(tmp_path / "o.db", 1)
    await asyncio.sleep(0.05)  # the writer is idle, waiting to be woken
    outbox.intake.wake.set()
    await asyncio.sleep(0)  # the event's waiter finishes...
    await asyncio.sleep(0)  # ...and hands its result on; the writer has not run yet
    task.cancel()
    await asyncio.wait([task], timeout=3)
    stopped = task.done()
    task.cancel()
    await outbox.close()
    assert stopped
