"""Build a camera's detector and pipeline from its settings (shared by the daemon and the CLI)."""

from __future__ import annotations

from gateway.pipelines.footfall import FootfallPipeline, FootfallSettings
from gateway.vision.detector import PersonDetector
from gateway.vision.engine import CameraEngine
from gateway.vision.geometry import CountingLine, Zone
from gateway.vision.models import session


def build_engine(lines: list[CountingLine], zones: list[Zone], *, interval_s: float = 60.0,
                 score_threshold: float = 0.3, hysteresis_px: float = 6.0, threads: int = 1) -> CameraEngine:
    """Verified model, detector, footfall pipeline and motion gate for one camera."""
    detector = PersonDetector(session("person-detector", threads=threads), score_threshold=score_threshold)
    pipeline = FootfallPipeline(FootfallSettings(lines=lines, zones=zones, interval_s=interval_s,
                                                 hysteresis_px=hysteresis_px))
    return CameraEngine(detector, pipeline)
