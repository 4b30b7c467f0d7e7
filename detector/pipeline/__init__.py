"""The camera pipeline as named stages: capture -> detect -> record -> outbox, wired by a supervisor.

- ``frames.py``   FrameBuffer: what waits to be recorded (pre-roll, back-pressure)
- ``capture.py``  the capture stage: source -> buffer and detection queue
- ``reopen.py``   when a source that went away is reopened (at once, or with backoff)
- ``detect.py``   the detect stage: motion, event clock, snapshots, faces
- ``dark.py``     dark mode, in one place
- ``idle_rate.py`` opt-in: fewer looks while nothing moves (``idle_detect_fps``)
- ``record.py``   the record stage: event frames -> segments (the recorder)
- ``disk.py``     writes on a disk that may be full: full -> reduced -> snapshots only
- ``supervise.py`` restart a failed loop with backoff; heartbeats; the watchdog
- ``camera_pipeline.py`` CameraPipeline: builds and supervises the stages, reports health
"""

from quickcam.detector.pipeline.camera_pipeline import CameraPipeline
from quickcam.detector.pipeline.stats import CameraStats

__all__ = ["CameraPipeline", "CameraStats"]
