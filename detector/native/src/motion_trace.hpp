// --motion-trace: the motion core alone, fed raw 8-bit gray frames (full range 0..255, as the
// Python detector's gray) on stdin, one line per frame on stdout. bench/native_parity.py feeds
// the same frames to Python's MotionDetector and compares the verdicts (docs/native.md).
#pragma once

#include "config.hpp"

namespace qc {

// size: "WIDTHxHEIGHT". video_range: the frames are a video's luma plane (16..235), stretched as
// the camera path stretches it. zones: the camera's, made into a mask at that size. Returns the
// exit code (2: bad size, or zones that cannot be built). every: each frame is a look that many
// source frames after the last (the detector's sparse looks: idle_detect_fps, dark_interval_s).
int run_motion_trace(const MotionConfig& config, const ZonesConfig& zones, const std::string& size, double fps,
                     bool video_range, int every = 1);

}  // namespace qc
