"""What the camera kind needs beyond the base install: frames, the detector and its arrays."""

from gateway.devices.extras import Needs

NEEDS = Needs(extra="vision", modules=("numpy", "cv2", "onnxruntime"))
