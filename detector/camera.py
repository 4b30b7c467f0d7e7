"""Where the camera pipeline used to live; it is now ``detector/pipeline/`` (one module per stage).

Kept so that imports of ``quickcam.detector.camera`` keep working.
"""

from quickcam.detector.pipeline import CameraPipeline, CameraStats
from quickcam.detector.pipeline.frames import FrameBuffer
from quickcam.detector.pipeline.record import OpenSegment

__all__ = ["CameraPipeline", "CameraStats", "FrameBuffer", "OpenSegment"]
