"""Build a camera's detector and pipeline from its settings (shared by the daemon and the CLI)."""

from __future__ import annotations

from typing import Any

from gateway.pipelines.footfall import FootfallPipeline, FootfallSettings
from gateway.vision.detector import PersonDetector
from gateway.vision.engine import CameraEngine
from gateway.vision.geometry import CountingLine, Zone
from gateway.vision.models import session


def build_engine(lines: list[CountingLine], zones: list[Zone], *, interval_s: float = 60.0,
                 score_threshold: float = 0.3, hysteresis_px: float = 6.0, threads: int = 1,
                 demographics: Any = None, retail: Any = None, rules: list[Any] | None = None,
                 occupancy: Any = None) -> CameraEngine:
    """Verified models, detector, footfall pipeline, motion gate and (if enabled) demographics.

    ``retail`` (a ``gateway.devices.camera.retail.RetailSettings``) turns on groups, passers-by,
    U-turns and store occupancy; ``rules`` are crossing rules (staff, child) in order; ``occupancy``, the
    camera's share of a store count other doors keep too (``gateway.devices.store_occupancy``).
    """
    detector = PersonDetector(session("person-detector", threads=threads), score_threshold=score_threshold)
    extra: dict[str, Any] = {"rules": list(rules or [])}
    if retail is not None:
        extra.update(groups=retail.groups, shop_fronts=retail.shop_fronts, occupancy=retail.occupancy)
    pipeline = FootfallPipeline(FootfallSettings(lines=lines, zones=zones, interval_s=interval_s,
                                                 hysteresis_px=hysteresis_px, **extra), occupancy=occupancy)
    stage = None
    if demographics is not None and demographics.enabled:
        from gateway.pipelines.demographics import DemographicsAggregator
        from gateway.vision.age_gender import AgeGenderEstimator
        from gateway.vision.demographics_stage import DemographicsStage
        from gateway.vision.faces import FaceDetector

        name = lines[0].name if lines else (zones[0].name if zones else "camera")
        estimator = AgeGenderEstimator(session("age", threads=threads), session("gender", threads=threads))
        stage = DemographicsStage(FaceDetector(session("face-detector", threads=threads)), estimator,
                                  DemographicsAggregator(name, demographics.interval_s, demographics.k,
                                                         demographics.min_confidence))
    return CameraEngine(detector, pipeline, demographics=stage)
