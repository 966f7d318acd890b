"""The footfall bench reports in the field audit's format: same payload, same saved file, totals from tallies."""

from __future__ import annotations

import argparse
import stat
from pathlib import Path

import msgspec
import pytest

pytest.importorskip("cv2")

from bench import bench_footfall_accuracy as bench
from gateway.audit.payload import audit_data
from gateway.audit.report import Tally, compare
from gateway.audit.screen import render_report
from gateway.audit.store import save_report
from gateway.events.types.audit import AuditData
from gateway.vision.geometry import CountingLine

TRUTH = [("in", 1.0), ("in", 4.2), ("out", 6.0), ("out", 9.5), ("in", 12.0)]
COUNTED = [("in", 1.3), ("out", 6.4), ("out", 7.9), ("in", 12.6), ("in", 14.0)]


def test_line_report_is_the_audit_payload() -> None:
    """The bench's per-line report is audit_data(compare(...)) of the same crossings, tally "file"."""
    report, data = bench.line_report("clip", "x300", TRUTH, COUNTED, 15.0, 1.0, 2.0)
    expected = audit_data(compare(TRUTH, COUNTED, 1.0, 0.0, 15.0, bucket_s=2.0), "clip", "x300", tally="file")
    assert data == expected
    assert data.device == "clip" and data.line == "x300" and data.tally == "file"
    assert (data.in_.manual, data.in_.device, data.in_.matched, data.in_.missed, data.in_.extra) == (3, 3, 2, 1, 1)
    assert (data.out.manual, data.out.matched, data.out.missed, data.out.extra) == (2, 1, 1, 1)
    assert report.directions["in"].matched == 2
    render_report(data)  # the audit screen's renderer takes it


def test_steady_report_leaves_out_the_warm_up() -> None:
    """Since ``since``, a true crossing before it is neither matched nor missed."""
    _, data = bench.line_report("clip", "x300", TRUTH, COUNTED, 15.0, 1.0, 2.0, since=2.0)
    assert data.in_.manual == 2 and data.window_s == 13.0


def test_saved_json_is_the_daemons_and_round_trips(tmp_path: Path) -> None:
    """--reports writes the bytes the daemon saves, mode 0640, and they decode back into the same AuditData."""
    _, data = bench.line_report("TUD/Campus", "x200", TRUTH, COUNTED, 15.0, 1.0, 2.0)
    path = bench.report_file(tmp_path / "reports", data)
    assert path.name == "TUD_Campus-x200.json"
    assert msgspec.json.decode(path.read_bytes(), type=AuditData) == data
    daemon = Path(save_report(str(tmp_path / "data"), data))
    assert path.read_bytes() == daemon.read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert bench.report_file(tmp_path / "reports", data, "customers").name == "TUD_Campus-x200-customers.json"


def test_totals_are_summed_tallies(tmp_path: Path) -> None:
    """The totals over lines are Tally sums of the per-line reports, and evaluate() keeps both windows."""
    args = argparse.Namespace(window=1.0, interval=2.0, warmup=1.0, reports=tmp_path)
    totals = bench.Totals()
    bench.evaluate("clip", "a", TRUTH, COUNTED, 15.0, args, totals)
    bench.evaluate("clip", "b", TRUTH[:2], COUNTED[:1], 15.0, args, totals)
    tallies = bench.summed(totals.whole)
    assert tallies["in"] == Tally(manual=5, device=4, matched=3, missed=2, extra=1)
    assert len(totals.steady) == 2 and sorted(p.name for p in tmp_path.iterdir()) == ["clip-a.json", "clip-b.json"]
    lines = bench.total_lines("ALL", tallies)
    assert lines[0].startswith("ALL in : truth 5, counted 4") and "absolute accuracy 40.0% (2/5)" in lines[0]


def test_retail_config_goes_through_the_camera_config() -> None:
    """--retail: children, groups and an outside line halfway to the frame edge on the street side."""
    line = CountingLine("x200", (200, 0), (200, 480), (600, 240))
    plain = bench.camera_config("clip", Path("clip.mp4"), line, (640, 480))
    assert plain.lines[0].outside is None and not plain.children.enabled and plain.group_window_s == 0
    cfg = bench.camera_config("clip", Path("clip.mp4"), line, (640, 480), retail=True, warmup_tracks=5)
    outside = cfg.lines[0].outside
    assert outside is not None and (outside.x1, outside.x2) == (100.0, 100.0)
    assert cfg.children.enabled and cfg.children.warmup_tracks == 5 and cfg.group_window_s == 2.0


def test_moved_crossings_are_every_crossing_but_the_customers() -> None:
    """A crossing a rule took out of in/out is in pipeline.crossings but not told to the audit."""
    run = bench.LineRun(everyone=[("in", 1.0), ("in", 1.0), ("out", 3.0)], customers=[("in", 1.0), ("out", 3.0)])
    assert bench.moved(run) == [("in", 1.0)]
    late = bench.LineRun(everyone=[("in", 2.8), ("out", 2.8)], customers=[("in", 2.84)])  # told at finish
    assert bench.moved(late, 0.06) == [("out", 2.8)] and bench.moved(late) == [("in", 2.8), ("out", 2.8)]
