// Frame sources: the demo scene, a USB camera (OpenCV's V4L2 back end), a video file or an
// RTSP/HTTP stream (FFmpeg's libraries, decoded on one thread), as in detector/sources.py.
// Every frame is stamped by the footage clock (clock.hpp: epoch nanoseconds that never step
// back). read() returns false when there is no frame now (reopen with backoff); `ended` is set
// when a file without loop has ended for good, and `cut_short` says why when it ended before its
// end (it shrank or grew while it was read: sources.py's cut_short).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "clock.hpp"
#include "config.hpp"
#include "remux.hpp"

namespace qc {

// A frame in YUV 4:2:0 (I420, limited range as video is), even width and height: half the
// bytes of BGR for the pre-roll and the recording queue, the encoder's own input, and
// detection reads its luma plane without any conversion. Only a snapshot needs BGR.
struct Frame {
    cv::Mat yuv;  // I420: height * 3 / 2 rows of width bytes (cv::COLOR_YUV2BGR_I420's layout)
    int width = 0, height = 0;
    int64_t time_ns = 0;
    int64_t index = 0;
    int keyframe = -1;  // 1 or 0 when the decoder says whether it was a keyframe (the view guard), -1 when not
    bool damaged = false;  // a damaged picture (damaged_packets.hpp): recorded, not analysed for motion
    bool undecoded = false;  // no picture: a packet not decoded (keyframe_gate.hpp), recorded, not analysed
    // Recorded by passthrough (remux.hpp): the stream's packets read since the frame before (one, without
    // B-frames), remuxed instead of the picture, which the pre-roll and the recorder's queue then drop.
    bool passthrough = false;
    std::vector<EncodedPacket> packets;
    bool starts_gop() const {  // a passthrough segment can start here: a keyframe's packet, or a picture
        if (!passthrough) return true;
        for (const auto& p : packets) if (p.keyframe) return true;
        return false;
    }
    cv::Mat luma() const { return yuv.rowRange(0, height); }
    cv::Mat bgr() const;
    void set_bgr(const cv::Mat& bgr);  // converted to I420, cropped to even sizes
};

class FrameSource {
public:
    virtual ~FrameSource() = default;
    virtual bool open() = 0;
    virtual bool read(Frame& frame) = 0;
    virtual void close() {}
    virtual std::string name() const = 0;
    virtual int64_t damaged_packets() const { return 0; }  // since start: packets its decoder found damaged
    virtual std::string damaged_fault() const { return ""; }  // the open streak of them in words ("" when none)
    // Whether detection wants every frame now: a source that can decode keyframes only asks (keyframe_gate.hpp)
    virtual void every_frame_from(std::function<bool()>) {}
    // The frame just read decoded again in full, when detection's decoder skips work (fast_decode); false if not.
    virtual bool full_picture(Frame&) { return false; }
    double fps = 15.0;
    int width = 0, height = 0;
    bool live = true;   // frames arrive whether or not anyone reads them
    bool ended = false;
    std::string cut_short;  // ended: why not at its end ("" when it was read to its end)
    std::string lost_why;   // a stream lost: why, when the source knows more than that no frame came ("" else)
};

class Stop;
// `stop`: the detector's, which a file's or a stream's blocking open or read gives up at (av_source.hpp).
std::unique_ptr<FrameSource> make_source(const CameraConfig& config, const Stop* stop = nullptr);
// "rtsp://user:secret@host/..." -> "rtsp://user:***@host/...", the rest as written, as the Python detector's
// redacted(): for the log, --print-config, and a fault (it travels to the uploader and the status).
std::string redacted(const std::string& url);

}  // namespace qc
