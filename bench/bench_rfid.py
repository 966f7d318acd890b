"""RFID benchmarks: inventory pipeline vs sllurp's decoding, end to end over TCP, memory at 100,000 tags.

Run:  .venv/bin/python bench/bench_rfid.py
1. Pipeline: 200,000 reads (2,000 tags x 4 antennas with cross-reads, the emulator's population)
   fed to InventoryPipeline on one thread; in the same run, the same reads as RO_ACCESS_REPORT
   messages (500 tags each, encoded by our emulator) decoded by sllurp's LLRPMessage. Both in
   reads/s, best of 3.
2. End to end: `storegw sim llrp` in a subprocess (3,000 tags, a round every 50 ms), the real
   LLRPDriver (sllurp thread + hand-off to asyncio) in this process, reads/s over 10 s.
3. Memory: 100,000 unique tags each read on two antennas, tracemalloc peak of the pipeline.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

from drivers.sim.llrp import protocol as p
from drivers.sim.llrp.population import Population, sgtin96
from drivers.sim.llrp.reader import LLRPReaderEmulator, Session
from gateway.pipelines.rfid_inventory import InventoryPipeline, InventorySettings

ROOT = Path(__file__).resolve().parents[1]


def make_reads(rounds: int = 25) -> list[tuple[str, int, int]]:
    """Reads of a 2,000-tag population over several inventory rounds."""
    population = Population.generate(2000, antennas=4, seed=1)
    reads: list[tuple[str, int, int]] = []
    for _ in range(rounds):
        reads += population.reads([1, 2, 3, 4], read_rate=0.95, cross_read=0.05)
    return reads


def pipeline_rate(reads: list[tuple[str, int, int]]) -> float:
    """Reads/s through the inventory pipeline (best of 3)."""
    best = 0.0
    for _ in range(3):
        inventory = InventoryPipeline(InventorySettings(zones={("r", a): f"z{a}" for a in range(1, 5)}))
        start = time.perf_counter()
        t = 0.0
        for epc, antenna, rssi in reads:
            inventory.feed("r", epc, antenna, rssi, t)
            t += 0.0001
        best = max(best, len(reads) / (time.perf_counter() - start))
    return best


def sllurp_rate(reads: list[tuple[str, int, int]]) -> float:
    """Reads/s of sllurp decoding the same reads as RO_ACCESS_REPORT messages (best of 3)."""
    from sllurp.llrp import LLRPMessage

    emulator = LLRPReaderEmulator(Population())
    session = Session(writer=None)  # type: ignore[arg-type]
    session.content.update(AntennaID=True, PeakRSSI=True, FirstSeenTimestamp=True, LastSeenTimestamp=True,
                           TagSeenCount=True)
    messages = [p.encode_message(p.RO_ACCESS_REPORT, i, emulator._tag_report(session, reads[i:i + 500]))
                for i in range(0, len(reads), 500)]
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        decoded = 0
        for message in messages:
            decoded += len(LLRPMessage(msgbytes=message).msgdict["RO_ACCESS_REPORT"]["TagReportData"])
        best = max(best, decoded / (time.perf_counter() - start))
    return best


async def end_to_end(seconds: float = 10.0) -> tuple[float, int]:
    """Reads/s from an emulator subprocess through sllurp and the driver."""
    from drivers.llrp import LLRPDriver

    process = subprocess.Popen([sys.executable, "-m", "gateway.cli.main", "sim", "llrp", "--port", "0", "--tags",
                                "3000", "--report-interval", "0.05", "--churn-every", "0"],
                               cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline() if process.stdout else ""
        port = int(re.search(r":(\d+):", line).group(1))  # type: ignore[union-attr]
        driver = LLRPDriver("bench", host="127.0.0.1", port=port, reader_config={"antennas": [1, 2, 3, 4]})
        count = 0

        def sink(reads: list[object]) -> None:
            nonlocal count
            count += len(reads)

        task = asyncio.create_task(driver.run(sink))
        while count == 0:
            await asyncio.sleep(0.05)
        start_count, start = count, time.perf_counter()
        await asyncio.sleep(seconds)
        rate = (count - start_count) / (time.perf_counter() - start)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        driver.shutdown()
        return rate, driver.stats.reconnects
    finally:
        process.terminate()
        process.wait(10)


def memory(tags: int = 100_000) -> float:
    """Peak MB traced while the pipeline holds ``tags`` unique tags."""
    epcs = [sgtin96("0614141", "812345", i) for i in range(tags)]
    tracemalloc.start()
    inventory = InventoryPipeline(InventorySettings(departed_after_s=1e9))
    for i, epc in enumerate(epcs):
        inventory.feed("r", epc, 1, -50, float(i))
        inventory.feed("r", epc, 2, -70, float(i))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(inventory.tags) == tags
    return peak / 1e6


def main() -> None:
    """Print every figure."""
    reads = make_reads()
    ours = pipeline_rate(reads)
    theirs = sllurp_rate(reads)
    print(f"inventory pipeline: {ours:,.0f} reads/s on one core ({len(reads):,} reads of 2,000 tags on 4 antennas); "
          f"sllurp decoding the same reads: {theirs:,.0f} reads/s; ratio {ours / theirs:.2f}")
    rate, reconnects = asyncio.run(end_to_end())
    print(f"end to end (emulator subprocess -> TCP -> sllurp thread -> driver -> loop): {rate:,.0f} reads/s "
          f"over 10 s, {reconnects} reconnects")
    print(f"memory with 100,000 unique tags read on two antennas: {memory():.0f} MB traced (tracemalloc peak, "
          f"pipeline and EPC cache)")


if __name__ == "__main__":
    main()
