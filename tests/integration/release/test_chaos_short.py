"""The chaos suite, short: four rounds with a fixed seed, and the two safety properties of the sequence.

Rounds: kill -9 of the daemon, kill -9 and restart of mosquitto, a black-holed connection
(the suite's asyncio proxy) and a valid reload under load, at 100 events/s, through the proxy on
loopback (no root needed). Then the daemon drains, every gap is asked for with `cmd/replay`, and:
nothing is reused (one sequence, two ids) and every committed sequence was delivered (or declared
never issued by the gateway). The full suite: `.venv/bin/python -m bench.chaos.run --rounds 24`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.chaos.run import ChaosOptions, run_chaos
from tests.support.broker import mosquitto_binary

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SCHEDULE = ["gateway-kill", "broker-kill", "blackhole", "reload"]


def test_short_chaos_run_reuses_no_sequence_and_delivers_every_committed_one(tmp_path: Path) -> None:
    if mosquitto_binary() is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    options = ChaosOptions(rounds=len(SCHEDULE), seed=20261129, rate=100.0, net="proxy", tmpfs=False,
                           schedule=SCHEDULE, steady=(1.0, 2.0), workdir=tmp_path / "chaos", max_seconds=150)
    lines: list[str] = []

    def out(text: str) -> None:
        """Keep the report for the assertion messages, and show it with -s."""
        lines.append(text)
        print(text, flush=True)

    report = run_chaos(options, out=out)
    text = "\n".join(lines)
    assert [r.fault for r in report.rounds if r.number] == SCHEDULE, text
    assert report.committed > 0, text
    assert report.reused == {}, f"sequence numbers reused with different ids: {report.reused}\n{text}"
    assert report.id_on_two_seqs == {}, text
    assert report.missing_after == [], f"committed but never delivered after the replay: {report.missing_after}\n{text}"
    assert report.exit_code == 0, text
