"""Snapshots for aiming a camera: lines, zones and detections drawn, every head blurred."""

from __future__ import annotations

import numpy as np

from gateway.vision.geometry import CountingLine, Zone

HEAD_SHARE = 0.28  # the top of a person box that holds the head, blurred whatever a face detector says


def blur_heads(image: np.ndarray, detections: np.ndarray) -> np.ndarray:
    """Blur the head region of every detected person (a missed face cannot leak this way)."""
    import cv2

    out = image.copy()
    height, width = out.shape[:2]
    for x1, y1, x2, y2, _ in detections:
        top, bottom = int(max(0, y1)), int(min(height, y1 + (y2 - y1) * HEAD_SHARE))
        left, right = int(max(0, x1)), int(min(width, x2))
        if bottom - top < 2 or right - left < 2:
            continue
        region = out[top:bottom, left:right]
        k = max(3, (min(region.shape[:2]) // 2) | 1)
        out[top:bottom, left:right] = cv2.GaussianBlur(region, (k, k), 0)
    return out


def annotate(image: np.ndarray, detections: np.ndarray, lines: list[CountingLine], zones: list[Zone]) -> np.ndarray:
    """The snapshot: heads blurred, then zones, lines (with their inside side) and boxes drawn."""
    import cv2

    out = blur_heads(image, detections)
    for zone in zones:
        points = np.array(zone.polygon, dtype=np.int32)
        cv2.polylines(out, [points], True, (255, 200, 0), 2)
        cv2.putText(out, zone.name, tuple(points[0]), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 200, 0), 2)
    for line in lines:
        a, b = tuple(map(int, line.a)), tuple(map(int, line.b))
        cv2.line(out, a, b, (0, 0, 255), 3)
        cv2.circle(out, tuple(map(int, line.inside)), 6, (0, 255, 0), -1)
        cv2.putText(out, f"{line.name} (green = inside)", a, cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 255), 2)
    for x1, y1, x2, y2, score in detections:
        cv2.rectangle(out, (int(x1), int(y1)), (int(x2), int(y2)), (0, 255, 0), 2)
        cv2.putText(out, f"{score:.2f}", (int(x1), int(y2) + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 255, 0), 1)
    return out
