"""Resident memory of the real daemon with two serial counters (emulated on ptys) and a synthetic device.

Run:  .venv/bin/python bench/bench_daemon_rss.py [--seconds 60] [--rate 300]
Starts its own mosquitto, two counter emulators and `storegw run` as a subprocess, samples
VmRSS and VmHWM from /proc every second and prints the peak and the final value.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout, for tests.support
from drivers.sim.serial_counter import SerialCounterEmulator  # noqa: E402
from tests.support.broker import Mosquitto  # noqa: E402
from tests.support.peers import write_config  # noqa: E402


def rss_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in kB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, value = line.split(":")
            values[key] = int(value.split()[0])
    return values["VmRSS"], values["VmHWM"]


def main() -> None:
    """Run the daemon for a while and report its memory."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rate", type=float, default=300, help="synthetic events/s")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="storegw-rss-"))
    broker = Mosquitto().start()
    emulators = [SerialCounterEmulator(link=str(work / f"door{i}"), protocol=p, people_per_minute=60).start()
                 for i, p in enumerate(("ascii", "terabee"))]
    devices = "".join(f'[[devices]]\nid = "door{i}"\nkind = "serial_counter"\nport = "{e.link}"\n'
                      f'protocol = "{e.protocol}"\ninterval_s = 10\n\n' for i, e in enumerate(emulators))
    devices += f'[[devices]]\nid = "load"\nkind = "synthetic"\nrate = {args.rate}\n'
    config = write_config(work / "c.toml", port=broker.port, data_dir=work / "data", devices=devices,
                          health_interval_s=5)
    process = subprocess.Popen([sys.executable, "-m", "gateway.cli.main", "run", "--config", str(config)],
                               cwd=ROOT, stderr=subprocess.DEVNULL)
    samples = []
    try:
        start = time.monotonic()
        while time.monotonic() - start < args.seconds:
            time.sleep(1)
            samples.append(rss_kb(process.pid))
    finally:
        process.terminate()
        process.wait(30)
        for emulator in emulators:
            emulator.stop()
        broker.stop()
    final, peak = samples[-1]
    print(f"daemon RSS with 2 serial counters (ascii + terabee on ptys) and a synthetic device at {args.rate:g} "
          f"events/s, {args.seconds:g} s, publishing to a local mosquitto: final {final / 1024:.1f} MB, "
          f"peak (VmHWM) {peak / 1024:.1f} MB, median {sorted(s[0] for s in samples)[len(samples) // 2] / 1024:.1f} MB")


if __name__ == "__main__":
    main()
