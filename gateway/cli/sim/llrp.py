"""`storegw sim llrp`: an LLRP reader emulator on TCP, for technicians and the demo."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the LLRP reader emulator."""
    parser = subparsers.add_parser("llrp", help="an LLRP reader with a simulated tag population")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5084)
    parser.add_argument("--tags", type=int, default=300)
    parser.add_argument("--antennas", type=int, default=4)
    parser.add_argument("--report-interval", type=float, default=1.0, help="seconds between report rounds")
    parser.add_argument("--churn-every", type=float, default=5.0, help="a move, a sale and an arrival every S s")
    parser.add_argument("--seed", type=int, default=1)
    parser.set_defaults(func=run_emulator)


def run_emulator(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C."""
    from drivers.sim.llrp.population import Population
    from drivers.sim.llrp.reader import LLRPReaderEmulator

    async def main() -> None:
        """Serve the emulated reader until Ctrl-C."""
        emulator = LLRPReaderEmulator(Population.generate(args.tags, args.antennas, seed=args.seed), host=args.host,
                                      port=args.port, antennas=args.antennas,
                                      report_interval_s=args.report_interval, churn_every_s=args.churn_every)
        await emulator.start()
        print(f"LLRP reader on {args.host}:{emulator.port}: {args.tags} tags over {args.antennas} antennas. "
              f"Try: storegw rfid inventory --reader {args.host}:{emulator.port} --antennas "
              f"{','.join(str(a) for a in range(1, args.antennas + 1))} --duration 5", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        with contextlib.suppress(asyncio.CancelledError):
            await stop.wait()
        await emulator.stop()
        print(f"served {emulator.stats.connections} connections, {emulator.stats.tag_reads} tag reads")

    asyncio.run(main())
    return 0
