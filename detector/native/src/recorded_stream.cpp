#include "recorded_stream.hpp"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "camera.hpp"
#include "error_text.hpp"
#include "logging.hpp"

namespace qc {

namespace {
constexpr double kReopenFirstS = 0.5;
constexpr size_t kPathShownMax = 120;  // bytes of the URL in the fault (camera.cpp's)

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

RecordedStream::RecordedStream(const CameraConfig& config, Stop& stop)
    : config_(config), source_(config, AvSource::Role::Record, &stop), stop_(stop),
      loop_("recorded stream", Loop::stall_s_for(config.fps)), pace_(config.reopen_max_s),
      keep_ns_(int64_t((config.recording.pre_roll_s + 2 * config.max_gop_s + 2) * 1e9)) {}

RecordedStream::~RecordedStream() {
    finish();
    if (thread_.joinable()) thread_.join();
}

void RecordedStream::start(const std::string& owner) {
    loop_.start();
    thread_ = std::thread([this, owner] {
        ::pthread_setname_np(::pthread_self(), ("recorded-" + config_.id).substr(0, 15).c_str());
        loop_.supervise(owner, [this] { run(); }, stop_);
        source_.close();
        {
            std::lock_guard<std::mutex> lock(mutex_);
            ended_ = true;
        }
        cv_.notify_all();
        done_ = true;
    });
}

void RecordedStream::finish() {
    finished_ = true;
    source_.abort = true;
    cv_.notify_all();
    stop_.poke();  // a wait to reopen ends now
}

std::string RecordedStream::mode() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return mode_;
}

std::string RecordedStream::fault() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return fault_;
}

void RecordedStream::set_fault(const std::string& fault) {
    std::lock_guard<std::mutex> lock(mutex_);
    fault_ = fault;
}

void RecordedStream::attach(Frame& frame, bool wait, Loop& beating) {
    std::unique_lock<std::mutex> lock(mutex_);
    wanted_ns_ = std::max(wanted_ns_, frame.time_ns);
    cv_.notify_all();
    while (wait && mode_ != "reencode" && !ended_ && newest_ns_ <= frame.time_ns && !stop_ && !finished_) {
        beating.beat();  // waiting for path's packets is not a stuck capture
        cv_.wait_for(lock, std::chrono::milliseconds(100));
    }
    if (mode_ == "reencode") return;  // the substream's own picture is recorded
    // Before path has opened the frame records nothing (camera_pipeline.py's: no source, nothing to record from)
    frame.passthrough = true;
    frame.packets.clear();
    while (!packets_.empty() && packets_.front().pts_ns <= frame.time_ns) {
        frame.packets.push_back(std::move(packets_.front()));
        packets_.pop_front();
    }
}

void RecordedStream::run() {
    const std::string& id = config_.id;
    source_.close();  // restarted after a throw: opened again
    if (!open_with_backoff()) return;
    while (!stop_ && !finished_) {
        loop_.beat();
        if (source_.mode() != "passthrough") {
            log::warning("camera ", id, ": recording the detection stream ", redacted(config_.detect_path),
                         " instead (", source_.why(), ")");
            std::lock_guard<std::mutex> lock(mutex_);
            mode_ = "reencode", ended_ = true;
            cv_.notify_all();
            return;
        }
        EncodedPacket packet;
        if (!source_.read_packet(packet)) {
            if (source_.ended || stop_ || finished_) {
                if (source_.ended) log::info("camera ", id, ": end of file ", config_.path);
                std::lock_guard<std::mutex> lock(mutex_);
                ended_ = true;
                cv_.notify_all();
                return;
            }
            log::warning("camera ", id, ": recorded stream ", source_.name(), " lost; reopening");
            set_fault("recorded stream lost: no packet from " + middle_cut(source_.name(), kPathShownMax) +
                      "; events are not recorded until it is back; reopening");
            source_.close();
            if (double wait = pace_.wait_s(now_s()); wait > 0) {
                log::info("camera ", id, ": the recorded stream went away soon after it opened; reopening in ", wait, " s");
                Loop::Waiting waiting(loop_);
                stop_.wait_for(wait, [this] { return finished_.load(); });
            }
            if (!open_with_backoff()) return;
            continue;
        }
        std::unique_lock<std::mutex> lock(mutex_);
        if (!source_.live) {  // a file read fast: not past what detection can still ask for (packet_capture.py)
            Loop::Waiting waiting(loop_);
            while (packet.pts_ns > wanted_ns_ + kAheadNs && !stop_ && !finished_)
                cv_.wait_for(lock, std::chrono::milliseconds(100));
        }
        newest_ns_ = std::max(newest_ns_, packet.pts_ns);
        packets_.push_back(std::move(packet));
        while (packets_.size() > 1 && newest_ns_ - packets_.front().pts_ns > keep_ns_) packets_.pop_front();
        cv_.notify_all();
    }
}

// Opens path, retrying with a backoff up to reopen_max_s while the camera runs (packet_capture.py's _open);
// a file read as fast as possible is tried once. Meanwhile the camera's fault says events are not recorded.
bool RecordedStream::open_with_backoff() {
    struct Unwatched {
        Loop& loop;
        explicit Unwatched(Loop& l) : loop(l) { loop.watch(false); }
        ~Unwatched() { loop.watch(true); }
    } unwatched(loop_);
    double backoff = std::min(kReopenFirstS, config_.reopen_max_s);
    for (int attempt = 1; !stop_ && !finished_; ++attempt) {
        bool opened = false;
        std::string error;
        try {
            opened = source_.open();
        } catch (const std::exception& e) {  // a driver error must not end the camera
            error = e.what();
        }
        if (opened) {
            pace_.opened(now_s());
            if (failed_)
                log::info("camera ", config_.id, ": the recorded stream ", source_.name(), " opened after ", failed_,
                          " failed attempt(s); events are recorded again");
            failed_ = 0;
            std::lock_guard<std::mutex> lock(mutex_);
            fault_.clear();
            if (mode_.empty() && source_.mode() == "passthrough") {
                mode_ = "passthrough";
                log::info("camera ", config_.id, ": recording ", source_.name(), " by passthrough (", source_.why(),
                          "); detecting on ", redacted(config_.detect_path));
            }
            return true;
        }
        if (finished_ || stop_) break;  // the open was cut short: not a failure
        // why, and the fix, for a file (open_failure's, as packet_capture.py's _cannot_open); a stream is named
        auto cannot_open = [&](bool whole) {
            std::string said = config_.source == "file"
                ? "cannot open the recorded stream " + open_failure(config_, whole, true).substr(std::string("cannot open ").size())
                : "cannot open the recorded stream " + (whole ? source_.name() : middle_cut(source_.name(), kPathShownMax));
            return error.empty() ? said : said + " (" + error + ")";
        };
        if (config_.source == "file" && !source_.live) {  // a file analysed as fast as possible is read once
            log::error("camera ", config_.id, ": ", cannot_open(true), "; its events are not recorded");
            std::lock_guard<std::mutex> lock(mutex_);
            fault_ = cannot_open(false) + "; events are not recorded", ended_ = true;
            cv_.notify_all();
            return false;
        }
        failed_ = attempt;
        char retrying[96];
        std::snprintf(retrying, sizeof retrying, "retrying (attempt %d failed, next in %.1f s)", attempt, backoff);
        if (attempt == 1)  // said once; each retry on its own line below it (packet_capture.py's _open)
            log::warning("camera ", config_.id, ": ", cannot_open(true), "; events are not recorded until it opens; ",
                         retrying);
        else {
            char again[96];
            std::snprintf(again, sizeof again, "recorded stream open attempt %d failed; next in %.1f s", attempt, backoff);
            log::info("camera ", config_.id, ": ", again);
        }
        set_fault(cannot_open(false) + "; events are not recorded until it opens; " + retrying);
        stop_.wait_for(backoff, [this] { return finished_.load(); });
        backoff = std::min(backoff * 2, config_.reopen_max_s);
    }
    return false;
}

}  // namespace qc
