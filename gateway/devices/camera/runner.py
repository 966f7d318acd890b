"""Runs a camera: latest frame at detect_fps -> engine -> footfall, occupancy and dwell events."""

from __future__ import annotations

import asyncio
import time

from drivers.camera import CameraDriver
from gateway.devices.camera.config import CameraConfig
from gateway.devices.camera.crossings import CustomerCrossings
from gateway.devices.context import DeviceContext
from gateway.vision.geometry import CountingLine, Zone


def geometry(cfg: CameraConfig) -> tuple[list[CountingLine], list[Zone]]:
    """Lines and zones of the config."""
    lines = [CountingLine(ln.name, (ln.x1, ln.y1), (ln.x2, ln.y2), (ln.inside[0], ln.inside[1])) for ln in cfg.lines]
    zones = [Zone(z.name, tuple((p[0], p[1]) for p in z.polygon)) for z in cfg.zones]
    return lines, zones


async def run_device(cfg: CameraConfig, ctx: DeviceContext) -> None:
    """Count people until cancelled; a bad model fails this camera only (the supervisor retries).

    Not a ``run_stream``: frames are taken at the camera's own pace (the latest one, detect_fps times
    a second) and inference awaits an executor, rather than readings pushed into a callback.
    """
    from gateway.devices.camera.retail import retail_settings
    from gateway.devices.camera.rules import (
        StaffFileWatch,
        crossing_rules,
        readable_uniforms,
        release_rules,
        set_frame_size,
    )
    from gateway.devices.store_occupancy import join_store_occupancy
    from gateway.vision.setup import build_engine

    lines, zones = geometry(cfg)
    # staff, then child; an unreadable staff file holds the camera here (failed, said once), not a restart loop
    uniforms = await readable_uniforms(cfg, ctx)
    # the store's count, shared with every door naming the same occupancy; left however this run ends
    occupancy = join_store_occupancy(cfg, ctx)
    try:
        rules = crossing_rules(cfg, uniforms)  # watches its badge scanners: given back in the finally below
        staff_file = StaffFileWatch(cfg, ctx, rules, uniforms)  # a new sample is matched without a restart
        engine = build_engine(lines, zones, interval_s=cfg.interval_s, score_threshold=cfg.score_threshold,
                              hysteresis_px=cfg.hysteresis_px, threads=cfg.threads, demographics=cfg.demographics,
                              retail=retail_settings(cfg), rules=rules, occupancy=occupancy)
        audit = CustomerCrossings(engine.pipeline)
        driver = CameraDriver(cfg.id, source=cfg.source, fps=cfg.fps, loop=cfg.loop, stall_s=cfg.stall_s,
                              stats=ctx.stats)
        loop = asyncio.get_running_loop()
        grabbing = asyncio.create_task(driver.run(lambda frame: None))
        period = 1.0 / cfg.detect_fps
        started = time.monotonic()
        try:
            while not grabbing.done():
                await asyncio.sleep(period)
                staff_file.poll()  # at most every few seconds, in a task: never on the frame path
                frame = driver.latest()
                if frame is None:
                    ctx.emit_all(engine.pipeline.tick(ctx.clock()))
                    continue
                set_frame_size(rules, frame.image.shape[1], frame.image.shape[0])  # the child rule's grid; once
                # inference is CPU-bound: run it off the loop so MQTT and other devices keep going
                events = await loop.run_in_executor(None, engine.process, frame.image, frame.time)
                audit.report(ctx, frame.time)  # customer crossings one by one, for `storegw audit` only
                ctx.emit_all(events)
                elapsed = time.monotonic() - started
                ctx.stats.extra.update(input_fps=round(driver.grabbed / elapsed, 1),
                                       processed_fps=round(engine.frames / elapsed, 1),
                                       detected_fps=round(engine.detected_frames / elapsed, 1),
                                       skipped_frames=driver.grabbed - driver.taken,
                                       tracks=len(engine.pipeline.tracker.tracks))
        finally:
            grabbing.cancel()
            staff_file.close()
            await asyncio.gather(grabbing, return_exceptions=True)
            driver.shutdown()
            finished = engine.pipeline.finish(ctx.clock())
            audit.report(ctx, ctx.clock())  # crossings of the tracks ended by finish
            ctx.emit_all(finished)
            if engine.demographics is not None:
                ctx.emit_all(engine.demographics.aggregator.tick(ctx.clock()))
    finally:
        release_rules(cfg)  # a camera stopped or removed by a reload: its badge UUIDs are no longer recorded
        if occupancy is not None:
            occupancy.close(ctx.clock())
