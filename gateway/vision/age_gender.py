"""Age and gender from a face: dlib-models' networks (CC0) on a chip aligned from CenterFace landmarks.

The networks were trained on dlib's 5-point aligned chips (padding 0.2). We align with a
similarity transform from CenterFace's eyes, nose and mouth corners to where dlib's chip puts
those points: dlib's mean face shape (landmarks 17-67 in a unit square, ``get_face_chip_details``)
gives the eye centres (mean of landmarks 36-41 and 42-47), the nose tip (30) and the mouth
corners (48, 54). The chip is made, used and dropped in RAM.
"""

from __future__ import annotations

import numpy as np

from gateway.vision.faces import Face

MEANS = np.array([122.782, 117.001, 104.298], dtype=np.float32)
AGE_WEIGHTS = np.array([0.25, *range(1, 81)], dtype=np.float32)
PADDING = 0.2
# eye centres, nose tip, mouth corners (image left first) in dlib's unpadded unit face square
TEMPLATE = np.array([[0.225490, 0.215990], [0.754760, 0.215990], [0.490127, 0.515625], [0.254149, 0.780233],
                     [0.726104, 0.780233]], dtype=np.float32)


def align(image: np.ndarray, face: Face, size: int) -> np.ndarray | None:
    """An RGB face chip of ``size`` pixels, or None when the landmarks cannot be fitted."""
    import cv2

    target = (TEMPLATE + PADDING) / (1 + 2 * PADDING) * size
    matrix, _ = cv2.estimateAffinePartial2D(face.landmarks.astype(np.float32), target, method=cv2.LMEDS)
    if matrix is None:
        return None
    chip = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return cv2.cvtColor(chip, cv2.COLOR_BGR2RGB)


def _tensor(chips: list[np.ndarray]) -> np.ndarray:
    """RGB chips -> [N,3,S,S] normalised as the networks expect."""
    return ((np.stack(chips).astype(np.float32) - MEANS) / 256.0).transpose(0, 3, 1, 2)


class AgeGenderEstimator:
    """Estimates (age in years, "female"|"male", confidence) for a face."""

    def __init__(self, age_session: object, gender_session: object) -> None:
        self.age = age_session
        self.gender = gender_session

    def estimate(self, image: np.ndarray, face: Face) -> tuple[float, str, float] | None:
        """The estimate, or None if the face cannot be aligned."""
        age_chip, gender_chip = align(image, face, 64), align(image, face, 32)
        if age_chip is None or gender_chip is None:
            return None
        ages = self.age.run(None, {"images": _tensor([age_chip])})[0][0]  # type: ignore[attr-defined]
        genders = self.gender.run(None, {"images": _tensor([gender_chip])})[0][0]  # type: ignore[attr-defined]
        age = float((ages * AGE_WEIGHTS).sum())
        index = int(np.argmax(genders))
        return age, ("female", "male")[index], float(genders[index])
