"""The outbox under faults: full disks (real tmpfs and SQLite's own limits), errors inside the error
path, a hung writer, the RAM bound, and sequence numbers after losing both local files."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.app import writer_verdict
from gateway.cli.outbox import read_stats
from gateway.config import ConfigError, parse_config
from gateway.events.types.footfall import OccupancyData
from gateway.events.types.synthetic import SyntheticData
from gateway.outbox import ClockUntrusted, Outbox, QuotaPolicy, RamQueue, Row
from gateway.outbox.floor import clock_floor, marker_path
from tests.support.broker import Mosquitto
from tests.support.paths import REPO_ROOT
from tests.support.peers import Daemon, Subscriber, validate_event, wait_for, write_config

SOURCE = "/stores/s/gateways/g"


# ---- helpers ---------------------------------------------------------------------------------
class SmallDisk:
    """A tmpfs of a few MB: a disk that really fills up, and is given room again by a remount."""

    def __init__(self, path: Path) -> None:
        """A tmpfs mounted at ``path``."""
        self.path = path

    def resize(self, size: str) -> None:
        """Remount with another size (e.g. "64m")."""
        subprocess.run(["mount", "-o", f"remount,size={size}", str(self.path)], check=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    """A 2 MB tmpfs under tmp_path, unmounted afterwards; skipped where mounting is not permitted."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("a real full disk needs a tmpfs, and mounting one needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield SmallDisk(mount)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


class FakeMonotonic:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        """Start at an arbitrary 1000 s."""
        self.now = 1000.0

    def __call__(self) -> float:
        """The current fake time."""
        return self.now


def gap_route(name: str) -> tuple[str, str]:
    """Subject and topic of the outbox's notices, as the app routes them."""
    return "g", f"storegw/v1/s/g/{name}"


async def opened(path: Path, *, notices: bool = True, **kwargs: Any) -> tuple[Outbox, list[Row]]:
    """An open outbox (with the app's notice routing unless told otherwise) and the rows it commits."""
    outbox = Outbox(str(path), source=SOURCE, quota=kwargs.pop("quota", QuotaPolicy()), **kwargs)
    if notices:
        outbox.notice_to = gap_route
    await outbox.open()
    rows: list[Row] = []
    outbox.subscribe(lambda r, d: rows.extend(r))
    return outbox, rows


def submit(outbox: Outbox, count: int, *, start: int = 0, name: str = "synthetic", filler: str = "") -> None:
    """Queue ``count`` events."""
    for i in range(start, start + count):
        outbox.submit(name, "dev", 1_700_000_000 + i, SyntheticData(n=i, filler=filler), f"t/{name}")


async def until(predicate: Callable[[], Any], what: str, timeout: float = 30.0) -> None:
    """Let the loop run until ``predicate`` holds (raises after ``timeout``, never asserts on time)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def set_pragma(outbox: Outbox, sql: str) -> None:
    """Run one statement on the outbox's own connection (SQLite then fails for real)."""
    async with outbox.database.lock:
        assert outbox.database.conn
        await outbox.database.conn.execute(sql)


async def stop(outbox: Outbox, task: asyncio.Task[None]) -> None:
    """Stop the writer and close."""
    task.cancel()
    await asyncio.wait([task], timeout=10)
    await outbox.close()


# ---- A: the writer never dies, resumes by itself, and reports -----------------------------
async def test_an_error_while_recovering_from_a_full_disk_does_not_end_the_writer(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """SQLITE_FULL, then a failing prune in the error path: the writer retries, logs once, resumes."""
    # The chaos run's fault: SQLITE_FULL in the transaction, then the pruning meant to make room
    # fails too. Both are real SQLite errors here: a page limit and a trigger refusing deletes.
    with caplog.at_level(logging.INFO, logger="storegw.outbox"):
        outbox, rows = await opened(tmp_path / "o.db", batch_max=100)
        task = asyncio.create_task(outbox.run())
        submit(outbox, 50)
        assert await outbox.flush()
        for row in rows:
            outbox.ack(row.seq)  # delivered rows: the ones pruning tries to delete
        assert await outbox.flush()
        await set_pragma(outbox, "PRAGMA max_page_count = 1")
        await set_pragma(outbox, "CREATE TEMP TRIGGER refuse BEFORE DELETE ON events "
                                 "BEGIN SELECT RAISE(ABORT, 'deleting is refused'); END")
        submit(outbox, 200, start=50, filler="x" * 400)
        await until(lambda: outbox.counters.write_errors >= 4 or task.done(), "several failed attempts")
        assert not task.done(), "an error in the error path must not end the writer"
        stats = await outbox.stats()
        assert stats["writer"] == "retrying" and "SQLITE_FULL" in stats["last_error"]
        assert outbox.queued == 200, "nothing is dropped while RAM is within its bound"
        await set_pragma(outbox, "DROP TRIGGER refuse")
        await set_pragma(outbox, "PRAGMA max_page_count = 1073741823")
        assert await outbox.flush(timeout=30), "the writer resumes by itself"
        assert outbox.last_seq == 250 and [r.seq for r in rows] == list(range(1, 251))
        assert (await outbox.stats())["writer"] == "ok"
        await stop(outbox, task)
    messages = [r.getMessage() for r in caplog.records]
    assert sum("the disk is full" in m and "during write" in m for m in messages) == 1, "once, not per retry"
    assert sum("deleting is refused" in m for m in messages) == 1, "the recovery's own error, once"
    assert sum("committing again" in m for m in messages) == 1


async def test_a_real_full_disk_is_survived_and_nothing_is_lost_when_room_returns(small_disk: SmallDisk) -> None:
    """A tmpfs that fills up: the writer survives it and commits everything once remounted bigger."""
    outbox, rows = await opened(small_disk.path / "o.db", batch_max=100)
    task = asyncio.create_task(outbox.run())
    submit(outbox, 300, filler="x" * 200)
    assert await outbox.flush()
    for row in rows:
        outbox.ack(row.seq)
    assert await outbox.flush()
    sent = 300
    while outbox.counters.write_errors < 3 and sent < 50_000 and not task.done():  # fill the 2 MB disk
        submit(outbox, 100, start=sent, filler="x" * 200)
        sent += 100
        await asyncio.sleep(0.02)
    assert not task.done(), "the writer survives a full disk"
    assert outbox.counters.write_errors >= 3, "the disk never filled"
    assert "SQLITE_FULL" in (outbox.last_error or "") or "No space" in (outbox.last_error or "")
    frozen = outbox.last_seq
    small_disk.resize("64m")
    assert await outbox.flush(timeout=60), "the writer resumes by itself once there is room"
    assert outbox.last_seq == sent > frozen
    assert [r.seq for r in rows] == list(range(1, sent + 1)), "every event committed, in order, once"
    assert not any(k.startswith("ram:") for k in outbox.counters.dropped)
    await stop(outbox, task)
    stats = read_stats(str(small_disk.path / "o.db"))
    assert stats["last_seq"] == sent and stats["write_errors"] >= 3, "write_errors are persisted"


async def test_drops_and_errors_are_persisted_even_when_the_whole_disk_is_full(small_disk: SmallDisk) -> None:
    """With no room for any new file, the state file is overwritten in place: stats after the stop show all."""
    counted: dict[str, Any] = {}
    outbox, _ = await opened(small_disk.path / "o.db", batch_max=100, ram_queue_max=500)
    task = asyncio.create_task(outbox.run())
    submit(outbox, 100, filler="x" * 200)
    assert await outbox.flush()
    sent = 100
    while outbox.counters.write_errors < 2 and sent < 50_000 and not task.done():  # fill the disk
        submit(outbox, 100, start=sent, filler="x" * 200)
        sent += 100
        await asyncio.sleep(0.02)
    assert outbox.counters.write_errors >= 2 and not task.done()
    submit(outbox, 1000, start=sent, filler="x" * 200)  # far over the RAM bound
    await stop(outbox, task)  # stopped while the disk is still full
    counted.update(write_errors=outbox.counters.write_errors, dropped=dict(outbox.counters.dropped))
    assert counted["dropped"]["ram:synthetic"] >= 1000 and counted["dropped"]["shutdown:synthetic"] == 500
    stats = read_stats(str(small_disk.path / "o.db"))
    assert stats["dropped"] == counted["dropped"] and stats["write_errors"] == counted["write_errors"]


async def test_the_ram_bound_drops_by_the_policy_and_counts_each_drop(tmp_path: Path) -> None:
    """At ram_queue_max, drop_order types go first, then the oldest; every drop counted and persisted."""
    quota = QuotaPolicy(drop_order=("synthetic", "health"))
    outbox, rows = await opened(tmp_path / "o.db", quota=quota, ram_queue_max=100)
    # the writer is not running: the queue fills up as it would on a full disk
    for i in range(40):
        outbox.submit("occupancy", "door", i, OccupancyData(zone="z", count=i), "t/occupancy")
    for i in range(30):
        outbox.submit("health", "g", i, SyntheticData(n=i), "t/health")
    submit(outbox, 30)
    assert outbox.queued == 100 and not outbox.counters.dropped
    for i in range(40, 90):  # 50 more: 30 synthetic go first, then the 20 oldest health events
        outbox.submit("occupancy", "door", i, OccupancyData(zone="z", count=i), "t/occupancy")
    assert outbox.queued == 100
    assert outbox.counters.dropped == {"ram:synthetic": 30, "ram:health": 20}
    for i in range(90, 105):  # no drop_order type left but 10 health, then the oldest of any type
        outbox.submit("occupancy", "door", i, OccupancyData(zone="z", count=i), "t/occupancy")
    assert outbox.counters.dropped == {"ram:synthetic": 30, "ram:health": 30, "ram:occupancy": 5}
    task = asyncio.create_task(outbox.run())
    assert await outbox.flush()
    committed = [json.loads(r.payload) for r in rows]
    assert [e["data"]["count"] for e in committed] == list(range(5, 105)), "oldest first, order kept"
    await stop(outbox, task)
    assert read_stats(str(tmp_path / "o.db"))["dropped"] == outbox.counters.dropped, "persisted"


def test_the_ram_queue_keeps_order_and_bound_when_a_failed_batch_comes_back() -> None:
    """A batch put back after a failed transaction keeps its place, and the bound still holds."""
    queue = RamQueue(10, ("synthetic",))
    drafts = [type("D", (), {"name": "synthetic" if i % 2 else "health", "n": i})() for i in range(10)]
    for draft in drafts:
        assert queue.append(draft) == []
    taken = queue.take(4)
    assert [d.n for d in taken] == [0, 1, 2, 3]
    late = [type("D", (), {"name": "health", "n": 10 + i})() for i in range(4)]
    for draft in late:
        queue.append(draft)
    dropped = queue.put_back(taken)  # 14 now: the 4 oldest synthetic go
    assert [d.n for d in dropped] == [1, 3, 5, 7] and len(queue) == 10
    assert [d.n for d in queue.drain()] == [0, 2, 4, 6, 8, 9, 10, 11, 12, 13]


async def test_counters_reach_the_state_file_when_the_database_cannot_take_them(tmp_path: Path) -> None:
    """write_errors and drops counted while the database is full are shown by outbox stats after the stop."""
    outbox, _ = await opened(tmp_path / "o.db", ram_queue_max=100)
    task = asyncio.create_task(outbox.run())
    submit(outbox, 10)
    assert await outbox.flush()
    await set_pragma(outbox, "PRAGMA max_page_count = 1")
    submit(outbox, 250, start=10, filler="x" * 300)
    await until(lambda: outbox.counters.write_errors >= 2, "failed attempts")
    await stop(outbox, task)  # the daemon stops while the database is still full
    stats = read_stats(str(tmp_path / "o.db"))
    assert stats["last_seq"] == 10
    assert stats["write_errors"] >= 2
    assert stats["dropped"]["ram:synthetic"] == 150, "the RAM bound's drops"
    assert stats["dropped"]["shutdown:synthetic"] == 100, "what RAM still held at the stop"


async def test_a_hung_writer_withholds_the_watchdog_but_a_full_disk_does_not(tmp_path: Path) -> None:
    """The watchdog verdict: a full disk is survived; another lasting failure or a hang is stuck."""
    clock = FakeMonotonic()
    outbox, _ = await opened(tmp_path / "o.db", stall_s=120, monotonic=clock)
    task = asyncio.create_task(outbox.run())
    submit(outbox, 5)
    assert await outbox.flush()
    assert writer_verdict(task, outbox) is None
    # a full disk: nothing is committed for a long time, but attempts keep ending
    await set_pragma(outbox, "PRAGMA max_page_count = 1")
    submit(outbox, 100, start=5, filler="x" * 400)
    await until(lambda: outbox.counters.write_errors >= 2, "failed attempts")
    clock.now += 1000
    errors = outbox.counters.write_errors
    await until(lambda: outbox.counters.write_errors > errors, "an attempt after the clock moved")
    assert writer_verdict(task, outbox) is None, "a full disk is survived, not restarted into"
    assert outbox.writer_state() == "retrying"
    # any other failure that lasts (here a trigger that survives the writer's reconnects): stuck
    await set_pragma(outbox, "PRAGMA max_page_count = 1073741823")
    await set_pragma(outbox, "CREATE TRIGGER refuse BEFORE INSERT ON events "
                             "BEGIN SELECT RAISE(ABORT, 'inserting is refused'); END")
    await until(lambda: "refused" in (outbox.last_error or ""), "another kind of failure")
    clock.now += 1000
    errors = outbox.counters.write_errors
    await until(lambda: outbox.counters.write_errors > errors, "another failed attempt")
    verdict = writer_verdict(task, outbox)
    assert verdict and "inserting is refused" in verdict and outbox.writer_state() == "stalled"
    await set_pragma(outbox, "DROP TRIGGER refuse")
    assert await outbox.flush(timeout=30)
    assert writer_verdict(task, outbox) is None
    # hung: an attempt that never ends (SQLite blocked inside a statement)
    entered, release = threading.Event(), threading.Event()

    def block() -> int:
        """Progress handler: hold SQLite inside the statement until released."""
        entered.set()
        release.wait(60)
        return 0

    assert outbox.database.conn
    await outbox.database.conn.set_progress_handler(block, 1)
    submit(outbox, 1, start=105)
    await until(entered.is_set, "the statement to hang")
    clock.now += 119
    assert writer_verdict(task, outbox) is None, "not before stall_s"
    clock.now += 2
    verdict = writer_verdict(task, outbox)
    assert verdict and "hung" in verdict and outbox.writer_state() == "stalled"
    release.set()
    await outbox.database.conn.set_progress_handler(None, 1)
    assert await outbox.flush(timeout=30)
    assert writer_verdict(task, outbox) is None and outbox.last_seq == 106
    task.cancel()
    await asyncio.wait([task], timeout=10)
    assert writer_verdict(task, outbox) == "the outbox writer is not running"
    await outbox.close()


def test_stall_s_is_validated() -> None:
    """[outbox] stall_s has a default and a floor."""
    base = '[gateway]\nstore_id = "s"\ngateway_id = "g"\n[mqtt]\nurl = "mqtt://127.0.0.1"\n[outbox]\n'
    assert parse_config(base + "stall_s = 300\n").outbox.stall_s == 300
    assert parse_config(base).outbox.stall_s == 120
    with pytest.raises(ConfigError) as caught:
        parse_config(base + "stall_s = 5\n", "c.toml")
    assert "outbox.stall_s" in str(caught.value)


def test_the_full_disk_of_the_chaos_run_is_survived_by_the_daemon(small_disk: SmallDisk, mosquitto: Mosquitto) -> None:
    """The issue's reproduction against the real daemon: it resumes by itself and loses nothing."""
    # The reproduction from the issue: data_dir on a 2 MB tmpfs, 300 events/s, the disk fills,
    # then it is given room again; the daemon must go on by itself and lose nothing across a restart.
    sub = Subscriber(mosquitto.port, "storegw/v1/#")
    data = small_disk.path / "data"
    config = write_config(small_disk.path.parent / "c.toml", port=mosquitto.port, data_dir=data,
                          devices='[[devices]]\nid = "load"\nkind = "synthetic"\nrate = 300\npayload_bytes = 200\n',
                          outbox_extra="retain_acked_s = 3600")
    outbox = str(data / "outbox.db")
    daemon = Daemon(config).start()
    try:
        wait_for(lambda: "the disk is full" in daemon.log(), timeout=60, what="the disk to fill")
        frozen = read_stats(outbox)["last_seq"]
        wait_for(lambda: daemon.log().count("outbox: the disk is full") >= 1, what="the report")
        small_disk.resize("64m")
        wait_for(lambda: read_stats(outbox)["last_seq"] > frozen + 600, timeout=60, what="commits to resume")
        assert "committing again" in daemon.log()
        assert daemon.terminate() == 0
        last = read_stats(outbox)["last_seq"]
        daemon = Daemon(config).start()  # everything unacked is sent again after the restart
        wait_for(lambda: set(range(1, last + 1)) <= sub.sequences(), timeout=60,
                 what="every committed event delivered")
    finally:
        if daemon.process and daemon.process.poll() is None:
            daemon.terminate()
        sub.close()
    stats = read_stats(outbox)
    assert stats["write_errors"] > 0, "the failed attempts are counted and persisted"
    assert not [k for k in stats["dropped"] if k.startswith(("ram:", "shutdown:"))], stats["dropped"]
    assert daemon.log().count("outbox: the disk is full (SQLITE_FULL") <= 2, "one line per new error, not per retry"


# ---- B: sequence numbers never reused, even with both files lost ----------------------------
def garble(path: Path) -> None:
    """Overwrite the start of a file with garbage."""
    with open(path, "r+b") as handle:
        handle.write(b"\xde\xad\xbe\xef" * 2048)


async def refill(path: Path, count: int, **kwargs: Any) -> tuple[Outbox, list[Row]]:
    """Open the outbox, commit ``count`` events, and return it closed with the rows it committed."""
    outbox, rows = await opened(path, **kwargs)
    task = asyncio.create_task(outbox.run())
    submit(outbox, count)
    assert await outbox.flush()
    await stop(outbox, task)
    return outbox, rows


async def test_both_files_garbage_continue_above_the_clock_floor_and_say_so(tmp_path: Path) -> None:
    """Database and state file garbage: numbering goes on above the clock floor, announced durably."""
    db = tmp_path / "o.db"
    await refill(db, 50)
    garble(db)
    (tmp_path / "o.db.state.json").write_bytes(b"\x00garbage{")
    before = time.time()
    outbox, rows = await refill(db, 3)
    gap = json.loads(rows[0].payload)
    validate_event(gap)
    assert gap["type"] == "storegw.sequence-gap.v1" and gap["subject"] == "g"
    floor = gap["data"]["to_seq"]
    assert gap["data"] == {"from_seq": 1, "to_seq": floor, "reason": "clock-floor"}
    assert clock_floor(before) <= floor <= clock_floor(time.time()) and floor > 50
    assert [r.seq for r in rows] == list(range(floor + 1, floor + 5)), "never a number issued before"
    assert outbox.never_issued_ranges(1, floor + 10) == [(1, floor)]
    again, _ = await opened(db)  # the skip is remembered in the database
    assert again.never_issued_ranges(floor - 5, floor + 5) == [(floor - 5, floor)]
    assert again.last_seq == floor + 4
    await again.close()


async def test_both_files_deleted_continue_above_the_clock_floor(tmp_path: Path) -> None:
    """`rm outbox.db*` leaves the marker, so numbering goes on above the clock floor."""
    db = tmp_path / "o.db"
    await refill(db, 20)
    for path in tmp_path.glob("o.db*"):  # what `rm outbox.db*` does
        path.unlink()
    assert Path(marker_path(str(db))).exists(), "the marker is hidden from that glob"
    _, rows = await refill(db, 2)
    assert rows[0].seq > 20 and json.loads(rows[0].payload)["data"]["reason"] == "clock-floor"
    assert rows[1].seq == rows[0].seq + 1


async def test_a_new_directory_starts_at_one_whatever_the_clock(tmp_path: Path) -> None:
    """A directory that never had an outbox numbers from 1 and does not consult the clock."""
    _, rows = await refill(tmp_path / "o.db", 3, clock=lambda: 0.0)
    seqs = [r.seq for r in rows]
    assert seqs == [1, 2, 3]


async def test_an_obviously_wrong_clock_is_refused_only_when_the_clock_would_number(tmp_path: Path) -> None:
    """A clock before the release date or the newest file is refused; a right one is used."""
    db = tmp_path / "o.db"
    await refill(db, 5)
    (tmp_path / "o.db.state.json").unlink()
    db.unlink()
    with pytest.raises(ClockUntrusted, match="before the date this storegw was written"):
        await opened(db, clock=lambda: 1_000_000_000.0)  # a Pi without RTC that booted in 2001
    future = time.time() + 86_400
    os.utime(marker_path(str(db)), (future, future))  # written when the clock was a day ahead of this one
    with pytest.raises(ClockUntrusted, match=r"\.o\.db\.numbered") as caught:
        await opened(db)
    assert "\n" not in str(caught.value)
    os.utime(marker_path(str(db)))
    _, rows = await refill(db, 1)  # a clock that is right again numbers above its floor
    assert rows[0].seq > clock_floor(time.time() - 60)


async def test_a_corrupt_database_skip_is_announced_once_and_answered_as_never_issued(tmp_path: Path) -> None:
    """After a corrupt database the reservation's skip is one sequence-gap event and never issued."""
    db = tmp_path / "o.db"
    await refill(db, 50, batch_max=300)
    garble(db)
    outbox, rows = await refill(db, 2)
    gap = json.loads(rows[0].payload)
    validate_event(gap)
    assert gap["data"]["reason"] == "database-corrupt" and gap["data"]["from_seq"] == 51
    last_skipped = gap["data"]["to_seq"]
    assert last_skipped >= 50 + 100_000 and rows[0].seq == last_skipped + 1
    assert outbox.never_issued_ranges(40, 60) == [(51, 60)]
    _, later = await refill(db, 1)
    assert later[0].seq == rows[-1].seq + 1 and json.loads(later[0].payload)["type"] != gap["type"]


async def test_a_skip_not_yet_committed_is_worked_out_again_after_a_crash(tmp_path: Path) -> None:
    """A skip whose notice was not committed yet is announced again at the next start."""
    db = tmp_path / "o.db"
    await refill(db, 10)
    garble(db)
    (tmp_path / "o.db.state.json").unlink()
    crashed, _ = await opened(db)
    assert crashed.queued == 1  # the notice waits for the first transaction
    await crashed.database.close()  # killed before anything was committed
    _, rows = await refill(db, 1)
    notice = json.loads(rows[0].payload)
    assert notice["type"] == "storegw.sequence-gap.v1" and notice["data"]["from_seq"] == 1
    assert rows[1].seq == rows[0].seq + 1 > 10


def test_the_daemon_refuses_to_number_from_a_wrong_clock_with_one_sentence(tmp_path: Path) -> None:
    """`storegw run` exits non-zero with one sentence when only a wrong clock could number."""
    data = tmp_path / "data"
    data.mkdir()
    marker = Path(marker_path(str(data / "outbox.db")))
    marker.write_text("numbered\n")
    future = time.time() + 10 * 86_400
    os.utime(marker, (future, future))
    config = write_config(tmp_path / "c.toml", port=1, data_dir=data)
    done = subprocess.run([sys.executable, "-m", "gateway.cli.main", "run", "--config", str(config)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert "the clock says" in last and "set the time" in last, done.stderr
    assert not (data / "outbox.db.state.json").exists(), "nothing numbered"
