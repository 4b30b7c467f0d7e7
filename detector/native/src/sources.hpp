// Frame sources: the demo scene, a USB camera, a video file, an RTSP/HTTP stream
// (OpenCV's V4L2 and FFmpeg back ends), as in detector/sources.py. Every frame is stamped
// with Unix nanoseconds. read() returns false when there is no frame now (reopen with
// backoff); `ended` is set when a file without loop has ended for good.
#pragma once

#include <cstdint>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>
#include <string>

#include "config.hpp"

namespace qc {

struct Frame {
    cv::Mat image;  // BGR
    int64_t time_ns = 0;
    int64_t index = 0;
};

class FrameSource {
public:
    virtual ~FrameSource() = default;
    virtual bool open() = 0;
    virtual bool read(Frame& frame) = 0;
    virtual void close() {}
    virtual std::string name() const = 0;
    double fps = 15.0;
    int width = 0, height = 0;
    bool live = true;   // frames arrive whether or not anyone reads them
    bool ended = false;
};

std::unique_ptr<FrameSource> make_source(const CameraConfig& config);
// "rtsp://user:secret@host/..." -> "rtsp://user:***@host/...", the rest as written, as the Python detector's
// redacted(): for the log, --print-config, and a fault (it travels to the uploader and the status).
std::string redacted(const std::string& url);
int64_t unix_ns();

}  // namespace qc
