#include "sources.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <opencv2/imgproc.hpp>
#include <stdexcept>
#include <thread>

#include "av_source.hpp"
#include "logging.hpp"
#include "pacer.hpp"
#include "usb_formats.hpp"

namespace qc {

// The host part is found as Python's urllib.parse.urlsplit finds it (the Python detector's
// redacted(), detector/pipeline/capture.py): after "scheme://" (or a leading "//") up to the
// first / ? or #; the password is what follows the first ':' of everything before its last '@'.
// capture.py's _query_redacted: the value of every query field (up to '&' or '#') whose name,
// in any case, is "pw" or holds pass, pwd, psw, secret, token, key or auth becomes "***"
// (many cameras take their password in the query: ?user=admin&pwd=...).
static std::string query_redacted(const std::string& url) {
    size_t query = url.find('?');
    if (query == std::string::npos) return url;
    size_t end = url.find('#', query);
    if (end == std::string::npos) end = url.size();
    std::string out = url.substr(0, query + 1);
    for (size_t field = query + 1; field <= end;) {
        size_t field_end = std::min(url.find('&', field), end);
        std::string text = url.substr(field, field_end - field);
        size_t equals = text.find('=');
        std::string name = text.substr(0, equals);
        std::string lower;
        for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        bool secret = equals != std::string::npos && lower == "pw";
        for (const char* word : {"pass", "pwd", "psw", "secret", "token", "key", "auth"})
            secret = secret || (equals != std::string::npos && lower.find(word) != std::string::npos);
        out += secret ? name + "=***" : text;
        if (field_end < end) out += '&';
        field = field_end + 1;
    }
    return out + url.substr(end);
}

std::string redacted(const std::string& url) {
    size_t start = std::string::npos;
    size_t colon = url.find(':');
    auto scheme_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.'; };
    bool scheme = colon != std::string::npos && colon > 0 && std::isalpha(static_cast<unsigned char>(url[0]));
    for (size_t k = 0; scheme && k < colon; ++k) scheme = scheme_char(url[k]);
    size_t rest = scheme ? colon + 1 : 0;
    if (url.compare(rest, 2, "//") == 0) start = rest + 2;
    if (start == std::string::npos) return url;  // no host part: nothing to hide
    size_t end = url.find_first_of("/?#", start);
    std::string netloc = url.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if ((netloc.find('[') == std::string::npos) != (netloc.find(']') == std::string::npos))
        return "<the stream URL>";  // Python refuses it as a URL; say nothing of it
    size_t at = netloc.rfind('@');
    if (at == std::string::npos) return query_redacted(url);
    size_t user_end = netloc.find(':');
    if (user_end == std::string::npos || user_end > at) return query_redacted(url);  // a user without a password
    return query_redacted(url.substr(0, start + user_end) + ":***" + url.substr(start + at));
}

cv::Mat Frame::bgr() const {
    cv::Mat out;
    cv::cvtColor(yuv, out, cv::COLOR_YUV2BGR_I420);
    return out;
}

void Frame::set_bgr(const cv::Mat& image) {
    width = image.cols & ~1, height = image.rows & ~1;
    cv::Mat even = width == image.cols && height == image.rows ? image : image(cv::Rect(0, 0, width, height));
    cv::cvtColor(even, yuv, cv::COLOR_BGR2YUV_I420);
}

namespace {

// The demo scene of detector/sources.py: a textured background with sensor noise and a
// person-sized walker at 4-10 s (left to right) and 18-23 s (back) of every 30 s, the
// first frame at ``start_s`` of that script; ``gap_s`` (8 there) moves the walk back to
// 10 + gap_s and shortens the period by as much (``demo_script`` in Python).
class DemoSource : public FrameSource {
public:
    DemoSource(int w, int h, double rate, bool realtime, double start_s, double gap_s, const Stop* stop)
        : pacer_(rate, stop), start_s_(start_s), shift_(gap_s - 8.0) {
        width = w, height = h, fps = rate, live = realtime;
        cv::RNG rng(7);
        cv::Mat texture(h / 8 + 1, w / 8 + 1, CV_8UC3);
        rng.fill(texture, cv::RNG::UNIFORM, 40, 200);
        cv::resize(texture, background_, cv::Size(w, h), 0, 0, cv::INTER_CUBIC);
        cv::GaussianBlur(background_, background_, cv::Size(0, 0), 3);
        cv::rectangle(background_, cv::Point(w / 10, h / 3), cv::Point(w / 4, h - 20), cv::Scalar(90, 60, 40), -1);
        started_ns_ = footage_ns();
    }
    bool open() override {
        log::info("demo source: ", width, "x", height, " at ", fps, " fps (", live ? "real time" : "as fast as possible", ")");
        return true;
    }
    std::string name() const override { return "demo scene"; }
    bool read(Frame& frame) override {
        if (live) pacer_.wait();
        cv::Mat image = background_.clone();
        double t = std::fmod(start_s_ + double(index_) / fps, 30.0 + shift_);
        struct Walk { double start, end; bool left_to_right; };
        for (const Walk& walk : {Walk{4.0, 10.0, true}, Walk{18.0 + shift_, 23.0 + shift_, false}}) {
            if (t < walk.start || t >= walk.end) continue;
            double progress = (t - walk.start) / (walk.end - walk.start);
            if (!walk.left_to_right) progress = 1 - progress;
            int w = width / 8, h = height / 2;
            int x = int(-w + progress * (width + w)), y = height - h - 10;
            cv::ellipse(image, cv::Point(x + w / 2, y + h / 8), cv::Size(w / 4, h / 8), 0, 0, 360,
                        cv::Scalar(150, 170, 210), -1);
            cv::rectangle(image, cv::Point(x + w / 6, y + h / 4), cv::Point(x + 5 * w / 6, y + h), cv::Scalar(30, 30, 120), -1);
        }
        // Sensor noise, N(0, 4) as the Python demo: cv::randn into a signed image, then added.
        noise_.create(image.size(), CV_16SC3);
        cv::randn(noise_, 0, 4);
        cv::add(image, noise_, image, cv::noArray(), CV_8UC3);
        frame.set_bgr(image);
        frame.time_ns = live ? footage_ns() : started_ns_ + int64_t(double(index_) * 1e9 / fps);
        if (index_ == 0)  // scene time 0 on the wall clock (before the first frame if the script starts later)
            log::info("demo scene clock starts at ", (frame.time_ns - int64_t(start_s_ * 1e9)) / 1000000, " ms");
        frame.index = index_++;
        return true;
    }

private:
    Pacer pacer_;
    double start_s_, shift_;
    cv::Mat background_, noise_;
    int64_t index_ = 0, started_ns_ = 0;
};

// A USB camera: the V4L2 module (usb_source.cpp) is loaded at the first open, so a
// missing module is the camera's fault, said in one line, not a crash.
class UsbSource : public FrameSource {
public:
    explicit UsbSource(const CameraConfig& config) : config_(config) {
        fps = config.fps, width = config.width, height = config.height;
    }
    std::string name() const override { return "device " + std::to_string(config_.index); }
    bool open() override {
        if (!inner_) inner_.reset(load()(config_));
        bool opened = inner_->open();
        sync();
        return opened;
    }
    bool read(Frame& frame) override {
        bool ok = inner_ && inner_->read(frame);
        sync();
        return ok;
    }
    void close() override {
        if (inner_) inner_->close();
    }

private:
    using Factory = FrameSource* (*)(const CameraConfig&);
    static Factory load() {
        static std::mutex mutex;
        static Factory factory = nullptr;
        std::lock_guard<std::mutex> lock(mutex);
        if (factory) return factory;
        std::error_code error;
        auto path = std::filesystem::read_symlink("/proc/self/exe", error).parent_path() / "quickcam-native-v4l2.so";
        void* module = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!module)
            throw std::runtime_error("cannot load the USB camera module (" + std::string(::dlerror()) +
                                     "); rebuild with scripts/build_native.sh");
        factory = reinterpret_cast<Factory>(::dlsym(module, "quickcam_usb_source"));
        if (!factory) throw std::runtime_error("the USB camera module " + path.string() + " is not this build's; rebuild it");
        return factory;
    }
    void sync() { fps = inner_->fps, width = inner_->width, height = inner_->height, ended = inner_->ended; }

    CameraConfig config_;
    std::unique_ptr<FrameSource> inner_;
};

}  // namespace

// A UVC H.264 camera (input_format = "h264"; usb_source.py's V4l2Source): libavformat's v4l2 demuxer, read as a
// stream is (live, timed by the stream clock, its packets passed through). QC_NATIVE_USB_DEMUXER=h264, a
// test and debug seam only, reads `path` (a FIFO fed the camera's Annex B) with the h264 demuxer instead.
CameraConfig usb_h264(const CameraConfig& config) {
    CameraConfig stream = config;
    const char* seam = std::getenv("QC_NATIVE_USB_DEMUXER");
    stream.demuxer = seam && *seam ? seam : "v4l2";
    if (stream.path.empty()) stream.path = "/dev/video" + std::to_string(config.index);
    stream.source = "stream";
    return stream;
}

namespace {

// input_format = "auto" (usb_source.py's UsbCamera._choose): the device is asked what it offers at the first open
// that can ask it; H.264 is read as "h264" is (its packets recorded as they came), MJPEG and raw video through
// OpenCV as before. Chosen once; a device that cannot be asked yet is opened through OpenCV, and asked again at
// the next open. Before, "auto" never read a camera's H.264: re-encoded at several times the CPU.
class AutoUsbSource : public FrameSource {
public:
    AutoUsbSource(const CameraConfig& config, const Stop* stop) : config_(config), stop_(stop) {
        fps = config.fps, width = config.width, height = config.height;
    }
    std::string name() const override { return inner_ ? inner_->name() : "device " + std::to_string(config_.index); }
    bool open() override {
        if (!chosen_) choose();
        if (!inner_) inner_ = std::make_unique<UsbSource>(config_);
        bool opened = inner_->open();
        sync();
        return opened;
    }
    bool read(Frame& frame) override {
        bool ok = inner_ && inner_->read(frame);
        sync();
        return ok;
    }
    void close() override {
        if (inner_) inner_->close();
    }
    int64_t damaged_packets() const override { return inner_ ? inner_->damaged_packets() : 0; }
    std::string damaged_fault() const override { return inner_ ? inner_->damaged_fault() : ""; }
    void every_frame_from(std::function<bool()> wanted) override {
        wanted_ = std::move(wanted);
        if (inner_) inner_->every_frame_from(wanted_);
    }
    bool full_picture(Frame& frame) override { return inner_ && inner_->full_picture(frame); }

private:
    void choose() {
        CameraConfig h264 = usb_h264(config_);
        auto formats = usb_formats(config_.path.empty() ? h264.path : config_.path);
        if (!formats) {
            inner_.reset();  // OpenCV's open says what is wrong with the device; asked again at the next open
            return;
        }
        std::string listed, kind = auto_input(*formats);
        for (const auto& code : *formats) listed += (listed.empty() ? "" : ", ") + code;
        std::string device = config_.path.empty() ? h264.path + " (camera index " + std::to_string(config_.index) + ")"
                                                  : config_.path;  // usb_source.py's name for it
        if (kind.empty())  // v4l2.py's words
            throw std::runtime_error(device + " offers no video format; check it with `v4l2-ctl -d " + h264.path +
                                     " --list-formats-ext` (a UVC camera's second /dev/video node carries only "
                                     "metadata)");
        log::info("camera ", config_.id, ": ", device, " offers ", listed, "; reading ", kind);
        chosen_ = true;
        if (kind == "h264") {
            inner_ = std::make_unique<AvSource>(h264, AvSource::Role::Whole, stop_);
            if (wanted_) inner_->every_frame_from(wanted_);
            return;
        }
        if (config_.record == "passthrough")  // camera_pipeline.py's, said once the camera's video is known
            log::warning("camera ", config_.id, ": re-encoding instead of passing the camera's video through: it "
                         "sends ", kind == "raw" ? "uncompressed video" : "MJPEG", ", not H.264");
        inner_ = std::make_unique<UsbSource>(config_);
    }
    void sync() {
        fps = inner_->fps, width = inner_->width, height = inner_->height, ended = inner_->ended, live = inner_->live;
    }

    CameraConfig config_;
    const Stop* stop_;
    bool chosen_ = false;
    std::unique_ptr<FrameSource> inner_;
    std::function<bool()> wanted_;
};

}  // namespace

std::unique_ptr<FrameSource> make_source(const CameraConfig& config, const Stop* stop) {
    if (config.source == "demo") return std::make_unique<DemoSource>(config.width, config.height, config.fps, config.realtime,
                                                                  config.demo_start_s, config.demo_gap_s, stop);
    if (config.source == "camera" && config.input_format == "h264") return std::make_unique<AvSource>(usb_h264(config), AvSource::Role::Whole, stop);
    if (config.source == "camera" && config.input_format == "auto") return std::make_unique<AutoUsbSource>(config, stop);
    if (config.source == "camera") return std::make_unique<UsbSource>(config);
    return std::make_unique<AvSource>(config, AvSource::Role::Whole, stop);
}

}  // namespace qc
