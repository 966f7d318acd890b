"""Person detector: NanoDet-m (416×416, COCO) on onnxruntime, with its GFL box decoding.

Input: the frame resized to 416×416, BGR, (x - mean) / std. Outputs per stride 8/16/32: class
scores [1,N,80] (already sigmoid) and box distributions [1,N,44] (4 sides × 11 bins, softmax,
expectation × stride = distance from the cell centre). Person is COCO class 0.
"""

from __future__ import annotations

import numpy as np

INPUT = 416
MEAN = np.array([103.53, 116.28, 123.675], dtype=np.float32)
STD = np.array([57.375, 57.12, 58.395], dtype=np.float32)
STRIDES = (8, 16, 32)
BINS = 11
PERSON = 0


def _centres(stride: int) -> np.ndarray:
    """Cell centres [N,2] of one stride's grid, row-major."""
    size = INPUT // stride
    ys, xs = np.mgrid[0:size, 0:size]
    return (np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32) + 0.5) * stride


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Indices kept by greedy non-maximum suppression."""
    order = np.argsort(-scores)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        if order.size == 1:
            break
        rest = order[1:]
        x1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        y1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        x2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        y2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        overlap = inter / np.maximum(area[i] + area[rest] - inter, 1e-6)
        order = rest[overlap < iou]
    return keep


class PersonDetector:
    """Finds people in BGR frames; returns [N,5] boxes (x1, y1, x2, y2, score) in frame pixels."""

    def __init__(self, session: object, score_threshold: float = 0.3, nms_iou: float = 0.5) -> None:
        self.session = session
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou
        self.input_name = session.get_inputs()[0].name  # type: ignore[attr-defined]
        outputs = session.get_outputs()  # type: ignore[attr-defined]
        # pair each stride's class and box outputs by their number of cells
        by_cells: dict[int, dict[str, str]] = {}
        for output in outputs:
            cells, width = output.shape[1], output.shape[2]
            by_cells.setdefault(cells, {})["cls" if width == 80 else "reg"] = output.name
        self.heads = [(stride, by_cells[(INPUT // stride) ** 2]["cls"], by_cells[(INPUT // stride) ** 2]["reg"])
                      for stride in STRIDES]
        self.centres = {stride: _centres(stride) for stride in STRIDES}
        self.bins = np.arange(BINS, dtype=np.float32)

    def preprocess(self, frame: np.ndarray) -> np.ndarray:
        """Frame -> network input [1,3,416,416]."""
        import cv2

        resized = cv2.resize(frame, (INPUT, INPUT), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        return ((resized - MEAN) / STD).transpose(2, 0, 1)[None]

    def infer(self, tensor: np.ndarray) -> list[np.ndarray]:
        """Raw network outputs in ``self.heads`` order (cls, reg per stride)."""
        names = [name for _, cls, reg in self.heads for name in (cls, reg)]
        return self.session.run(names, {self.input_name: tensor})  # type: ignore[attr-defined, no-any-return]

    def postprocess(self, outputs: list[np.ndarray], width: int, height: int) -> np.ndarray:
        """Decode, threshold and NMS; boxes scaled back to the frame."""
        all_boxes, all_scores = [], []
        for index, (stride, _, _) in enumerate(self.heads):
            scores = outputs[2 * index][0][:, PERSON]
            mask = scores >= self.score_threshold
            if not mask.any():
                continue
            reg = outputs[2 * index + 1][0][mask].reshape(-1, 4, BINS)
            reg = np.exp(reg - reg.max(axis=2, keepdims=True))
            distances = (reg / reg.sum(axis=2, keepdims=True) * self.bins).sum(axis=2) * stride
            centres = self.centres[stride][mask]
            boxes = np.concatenate([centres - distances[:, :2], centres + distances[:, 2:]], axis=1)
            all_boxes.append(boxes)
            all_scores.append(scores[mask])
        if not all_boxes:
            return np.zeros((0, 5), dtype=np.float32)
        boxes = np.concatenate(all_boxes)
        scores = np.concatenate(all_scores)
        keep = nms(boxes, scores, self.nms_iou)
        boxes, scores = boxes[keep], scores[keep]
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]] * (width / INPUT), 0, width - 1)
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]] * (height / INPUT), 0, height - 1)
        return np.concatenate([boxes, scores[:, None]], axis=1).astype(np.float32)

    def detect(self, frame: np.ndarray) -> np.ndarray:
        """People in one BGR frame."""
        height, width = frame.shape[:2]
        return self.postprocess(self.infer(self.preprocess(frame)), width, height)
