"""Synthetic trajectories for the footfall pipeline: boxes in a 640x480 frame, fed at 10 frames/s."""

from __future__ import annotations

import itertools
from typing import Any

import msgspec
import numpy as np

from gateway.events.schemas import event_schema
from gateway.pipelines import Event
from gateway.pipelines.footfall import FootfallPipeline, FootfallSettings
from gateway.vision.geometry import CountingLine

DOOR = CountingLine("door", (320, 0), (320, 480), inside=(600, 240))
"""The counting line: the store is right of x = 320, the street left of it."""
FPS = 10.0
HEIGHT = 160.0


def person(x: float, y: float = 300) -> list[float]:
    """A 60x160 box whose bottom centre is (x, y)."""
    return [x - 30, y - HEIGHT, x + 30, y, 0.9]


def path(points: list[tuple[float, float]], steps: int) -> list[tuple[float, float]]:
    """``steps`` positions along each leg of a polyline."""
    out: list[tuple[float, float]] = []
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        out += [(x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps) for k in range(steps)]
    return [*out, points[-1]]


def scene(*people: tuple[float, list[tuple[float, float]]]) -> list[list[list[float]]]:
    """Frames of several people, each (start time in s, positions one frame apart)."""
    length = max(int(start * FPS) + len(points) for start, points in people) + 1
    frames: list[list[list[float]]] = [[] for _ in range(length)]
    for start, points in people:
        for k, (x, y) in enumerate(points):
            frames[int(start * FPS) + k].append(person(x, y))
    return frames


def feed(pipeline: FootfallPipeline, frames: list[list[list[float]]], t0: float = 0.0) -> list[Event]:
    """Every frame at FPS from ``t0``; the events the pipeline returned."""
    events: list[Event] = []
    for i, detections in enumerate(frames):
        events += pipeline.process(np.array(detections, dtype=np.float32).reshape(-1, 5), t0 + i / FPS)
    return events


def run(frames: list[list[list[float]]], **settings: Any) -> tuple[FootfallPipeline, list[Event]]:
    """A one-hour-interval pipeline on the door, fed and finished; all its events."""
    pipeline = FootfallPipeline(FootfallSettings(lines=[DOOR], interval_s=3600, **settings))
    events = feed(pipeline, frames)
    events += pipeline.finish(len(frames) / FPS)
    return pipeline, events


def only(events: list[Event], kind: str) -> list[Any]:
    """The data of the events of one type, each checked against its published JSON Schema."""
    import jsonschema

    found = [e.data for e in events if e.type == kind]
    schema = event_schema(kind)
    data_schema = {"$defs": schema["$defs"], **schema["properties"]["data"]}
    for data in found:
        jsonschema.validate(msgspec.to_builtins(data), data_schema)
    return found
