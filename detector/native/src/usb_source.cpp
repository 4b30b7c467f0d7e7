// A USB camera through OpenCV's V4L2 back end, in a module of its own
// (quickcam-native-v4l2.so, beside the binary): OpenCV's videoio maps GStreamer,
// libdc1394, libgphoto2, imgcodecs and through it GDAL & co., 25 MB of RSS that a detector
// watching files or streams never needs. sources.cpp loads it when a camera opens.
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "logging.hpp"
#include "sources.hpp"

namespace qc {

namespace {

// A USB camera through OpenCV's V4L2 back end.
class CaptureSource : public FrameSource {
public:
    explicit CaptureSource(const CameraConfig& config) : config_(config) {
        fps = config.fps, width = config.width, height = config.height;
        live = true;
    }
    std::string name() const override { return "device " + std::to_string(config_.index); }
    bool open() override {
        close();
        const auto& c = config_;
        for (int backend : {int(cv::CAP_V4L2), int(cv::CAP_ANY)}) {
            if (capture_.open(c.index, backend)) {
                if (c.mjpg && c.input_format != "raw") capture_.set(cv::CAP_PROP_FOURCC, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'));
                capture_.set(cv::CAP_PROP_FRAME_WIDTH, c.width);
                capture_.set(cv::CAP_PROP_FRAME_HEIGHT, c.height);
                capture_.set(cv::CAP_PROP_FPS, c.fps);
                capture_.set(cv::CAP_PROP_BUFFERSIZE, 1);  // the newest frame, not a stale queue
                break;
            }
        }
        if (!capture_.isOpened()) return false;
        double rate = capture_.get(cv::CAP_PROP_FPS);
        fps = rate >= 1 && rate <= 120 ? rate : c.fps;
        width = int(capture_.get(cv::CAP_PROP_FRAME_WIDTH));
        height = int(capture_.get(cv::CAP_PROP_FRAME_HEIGHT));
        log::info("camera ", c.id, ": opened ", name(), " (", capture_.getBackendName(), " back end) at ", width, "x",
                  height, " ", fps, " fps");
        return true;
    }
    bool read(Frame& frame) override {
        if (!capture_.isOpened()) return false;
        if (!capture_.read(image_) || image_.empty()) return false;
        frame.set_bgr(image_);
        width = frame.width, height = frame.height;  // the frames, not the driver, tell the truth
        frame.time_ns = footage_ns();
        frame.index = index_++;
        return true;
    }
    void close() override { capture_.release(); }

private:
    CameraConfig config_;
    cv::VideoCapture capture_;
    cv::Mat image_;
    int64_t index_ = 0;
};

}  // namespace

}  // namespace qc

extern "C" qc::FrameSource* quickcam_usb_source(const qc::CameraConfig& config) { return new qc::CaptureSource(config); }
