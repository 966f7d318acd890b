"""Cameras through OpenCV: USB index, RTSP/HTTP URL or a video file."""

from drivers.camera.driver import CameraDriver, Frame

__all__ = ["CameraDriver", "Frame"]
