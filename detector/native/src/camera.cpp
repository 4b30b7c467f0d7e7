#include "camera.hpp"

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <opencv2/imgproc.hpp>

#include <sstream>

#include "encoder.hpp"
#include "error_text.hpp"
#include "jpeg.hpp"
#include "keyframe_gate.hpp"
#include "logging.hpp"
#include "motion.hpp"
#include "av_source.hpp"
#include "pre_roll.hpp"
#include "recorded_stream.hpp"
#include "view_guard.hpp"
#include "wire.hpp"
#include "zones.hpp"

namespace qc {

namespace {
constexpr double kReopenFirstS = 0.5;
constexpr int kFileReopenAttempts = 3;  // a file analysed as fast as possible that went away: then given up
constexpr int kMaxSnapshots = 6;  // per event
constexpr double kOpenSlowS = 5.0;  // an open running this long is said in the fault (camera_pipeline.py OPEN_SLOW_S)
constexpr double kEncoderFailedShownS = 300.0;  // an encoder's failure in the fault this long (encoders.py FAILED_SHOWN_S)
constexpr size_t kFaultMax = 300;  // bytes of UTF-8 in a camera's fault (common/protocol_schema.py FAULT_MAX)
constexpr int64_t kSnapshotGapNs = 1000000000;  // between "larger area" snapshots
constexpr int64_t kDetectSlackNs = 2000000000;  // kept beyond the pre-roll (camera_pipeline.py DETECT_SLACK_NS)

// The kernel's words for a path it will not look up at all (ENAMETOOLONG), and the fix (capture.py PATH_TOO_LONG).
constexpr const char* kPathTooLong =
    "path too long for the system (a name in it over 255 bytes, or all of it over 4095); check [camera] path";
// Bytes of a path or URL in a camera's fault: the rest of kFaultMax keeps the longest fix and the retry count
// whole (capture.py PATH_SHOWN_MAX).
constexpr size_t kPathShownMax = 120;
constexpr size_t kFolderShownMax = 40;  // bytes of that folder in a fault (closed_folder.py FOLDER_SHOWN_MAX)

// The first folder on `path`'s way (from / down) this user may not search, or "" (closed_folder.py closed_folder).
std::string closed_folder(const std::string& path) {
    std::error_code error;  // relative: from the working directory (os.path.abspath)
    std::string absolute = (path.rfind('/', 0) == 0 ? std::filesystem::path(path)
                                                    : std::filesystem::current_path(error) / path).lexically_normal().string();
    for (size_t slash = absolute.find('/', 1); slash != std::string::npos; slash = absolute.find('/', slash + 1)) {
        std::string folder = absolute.substr(0, slash);
        if (::access(folder.c_str(), X_OK) != 0) return folder;
    }
    return "";
}

// A path refused by a folder on its way (EACCES from stat): making the file readable, or the video group, is not
// the fix; the folder is named (closed_folder.py folder_fix).
std::string folder_fix(const std::string& path, bool whole) {
    std::string folder = closed_folder(path);
    if (folder.empty())
        return "permission denied on a folder in its path; give this user search (x) permission on each folder of it";
    return "permission denied on the folder " + (whole ? folder : middle_cut(folder, kFolderShownMax)) +
           " in its path; give this user search (x) permission on it";
}

// 0 when `path` can be looked up, else the errno of why not (capture.py _lookup_errno).
int lookup_errno(const std::string& path, struct stat& st) {
    return ::stat(path.c_str(), &st) == 0 ? 0 : (errno ? errno : EIO);
}

}  // namespace

// Why the camera's source would not open, as far as can be told, and the likely fix (the Python detector's
// texts, detector/pipeline/capture.py open_failure). Its path (or URL) cut in the middle to kPathShownMax bytes
// unless `whole`: this text is the camera's fault, cut at 300 bytes, and a long path said whole took the fix
// with it. The log's first line of a failure says the path whole (a typo may sit in its middle).
std::string open_failure(const CameraConfig& config, bool whole, bool recorded) {
    CameraConfig c = config;  // with a detect_path, capture opens the substream (path: recorded_stream.cpp)
    const std::string key = !c.detect_path.empty() && !recorded ? "detect_path" : "path";
    if (key == "detect_path") c.path = c.detect_path;
    auto shown = [whole](const std::string& path) { return whole ? path : middle_cut(path, kPathShownMax); };
    struct stat st{};
    if (c.source == "camera") {
        std::string device = "/dev/video" + std::to_string(c.index);
        int looked_up = lookup_errno(device, st);
        if (looked_up && looked_up != EACCES)
            return "cannot open " + device + " (camera index " + std::to_string(c.index) + ") — no such device; list "
                   "cameras with `v4l2-ctl --list-devices` (or `ls /dev/video*`) and set [camera] index";
        if (looked_up) return "cannot open " + device + " — " + folder_fix(device, whole);  // not the video group
        if (::access(device.c_str(), R_OK | W_OK) != 0)
            return "cannot open " + device + " — permission denied; add this user to the 'video' group "
                   "(`sudo usermod -aG video $USER`, then log in again)";
        return "cannot open " + device + " — the device exists but gives no video (another program may be using it, "
               "or it is not a capture device); try another [camera] index";
    }
    if (c.source == "file") {
        std::string path = shown(c.path);
        int looked_up = lookup_errno(c.path, st);
        if (looked_up == ENAMETOOLONG) return "cannot open " + path + " — " + kPathTooLong;
        if (looked_up == EACCES) return "cannot open " + path + " — " + folder_fix(c.path, whole);
        if (looked_up) return "cannot open " + path + " — no such file; check [camera] " + key;
        if (!S_ISREG(st.st_mode)) return "cannot open " + path + " — not a file; set [camera] " + key + " to a video file";
        if (::access(c.path.c_str(), R_OK) != 0)
            return "cannot open " + path + " — permission denied; make it readable by this user";
        return "cannot open " + path + " — not a video this OpenCV can read; check that it plays (e.g. `ffprobe` "
               "it) or convert it to MP4";
    }
    if (c.source == "stream")
        return "cannot open stream " + shown(redacted(c.path)) + " — no answer or not a video stream; check the URL, that "
               "the camera is on the network, and its user and password";
    return "cannot open the " + c.source + " source";
}

namespace {

// Runs `f` when the scope is left by an exception (not on a normal return).
template <typename F>
class OnUnwind {
public:
    explicit OnUnwind(F f) : f_(std::move(f)) {}
    ~OnUnwind() {
        if (std::uncaught_exceptions() > exceptions_) f_();
    }

private:
    F f_;
    int exceptions_ = std::uncaught_exceptions();
};

Value box_value(const cv::Rect& r) {
    return Value::array({Value::integer(r.x), Value::integer(r.y), Value::integer(r.width), Value::integer(r.height)});
}
}  // namespace

EventClock::Action EventClock::step(int64_t time_ns, bool motion) {
    if (!recording) {
        if (!motion) { streak = 0; return Action::None; }
        if (streak == 0) streak_start_ns = time_ns;
        if (++streak < trigger_frames) return Action::None;
        streak = 0;
        recording = true;
        last_motion_ns = time_ns;
        onset_ns = streak_start_ns;
        return Action::Start;
    }
    if (motion) last_motion_ns = time_ns;
    bool quiet_too_long = time_ns - last_motion_ns > post_roll_ns;
    bool long_enough = time_ns - onset_ns >= min_event_ns;
    bool too_long = time_ns - onset_ns > max_event_ns;
    if ((quiet_too_long && long_enough) || too_long) {
        recording = false;
        end_ns = time_ns;
        return Action::End;
    }
    return Action::Continue;
}

bool EventClock::cut(int64_t time_ns) {
    streak = 0;
    if (!recording) return false;
    recording = false;
    end_ns = time_ns;
    return true;
}

bool EventClock::begin(int64_t onset, int64_t time_ns) {
    if (recording) return false;
    streak = 0;
    recording = true;
    last_motion_ns = time_ns;
    onset_ns = std::min(onset, time_ns);
    return true;
}

int64_t first_pre_roll_ns(int64_t onset_ns, int64_t quiet_look_ns, double pre_roll_s, double fps) {
    int64_t from_ns = onset_ns - int64_t(pre_roll_s * 1e9);
    int64_t frame_ns = int64_t(1e9 / std::max(1.0, fps));
    if (quiet_look_ns && onset_ns - quiet_look_ns > frame_ns * 3 / 2)  // looks were skipped
        from_ns = std::min(from_ns, quiet_look_ns);
    return from_ns;
}

double ReopenPace::wait_s(double now) {
    if (opened_at < 0 || now - opened_at >= kSteadyS) {
        next_s = std::min(kFirstS, max_s);
        return 0.0;
    }
    double wait = next_s;
    next_s = std::min(next_s * 2, max_s);
    return wait;
}

namespace {
double steady_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

// Detection's state (capture_loop's): kept across a restart of the loop on a file that goes on, so the running
// event carries on (a walk with a picture that threw in its middle was cut into two events, the second from a
// background learnt with the walker in it).
struct CameraPipeline::DetectState {
    DetectState(const CameraConfig& config, double fps)
        : motion(config.motion, fps),
          clock{int64_t(config.recording.post_roll_s * 1e9), int64_t(config.recording.max_event_s * 1e9),
                int64_t(config.recording.min_event_s * 1e9), config.motion.trigger_frames},
          guard(config.source == "camera" || config.source == "stream") {}  // a file may hold a still picture
    RunningAverageMotion motion;
    EventClock clock;
    std::deque<Frame> pre_roll;
    std::deque<int64_t> fps_window;
    std::string event_id;
    int snapshots = 0;
    double best_area = 0;
    int64_t last_snapshot_ns = 0, next_check_ns = 0, last_ns = 0;
    bool relearning = false;
    int64_t idle_next_ns = 0;
    int64_t quiet_look_ns = 0;  // the last frame looked at without motion: motion began after it
    int64_t last_look_ns = 0;   // the last frame looked at
    bool skipped = false;       // frames came since the last look that were not looked at (detect.py)
    bool moving = false, zone_set = false;
    ViewGuard guard;
    int snapshots_kept = 0, snapshots_failed = 0;  // the running event's (the recorder says what is left of it)
    std::optional<Item> ending;  // an ended event's End, held for the B-frames shown before its end (tail)
    std::vector<EncodedPacket> tail;
    int tail_frames = 0;

    Item end(std::string cut = "") const {  // the running event's End, with its snapshots' tally
        Item item{Item::End, {}, event_id, std::move(cut)};
        item.snapshots_kept = snapshots_kept, item.snapshots_failed = snapshots_failed;
        return item;
    }
};

CameraPipeline::CameraPipeline(const CameraConfig& config, Outbox& outbox, Stop& stop)
    : config_(config), outbox_(outbox), disk_(config.id, outbox), stop_(stop), source_(make_source(config, &stop)),
      capturing_("capture", Loop::stall_s_for(config.fps)), recording_("recording", Loop::stall_s_for(config.fps)),
      max_frames_(std::max<size_t>(8, size_t(config.recording.buffer_max_s * std::max(1.0, config.fps)))),
      pace_(config.reopen_max_s), record_(make_record_state()) {
    if (!config.detect_path.empty() && (config.source == "file" || config.source == "stream")) {
        source_ = std::make_unique<AvSource>(config, AvSource::Role::Detect, &stop);
        recorded_ = std::make_unique<RecordedStream>(config, stop);
    }
    // *_keyframes_only: asked by the source in the capture thread, where detection runs (no lag to allow for)
    source_->every_frame_from([this] {
        DetectionNeeds now;
        now.recording = detect_ && detect_->clock.recording;
        now.moving = detect_ && detect_->moving;
        now.pictures_recorded = recorded_ && recorded_->mode() != "passthrough";
        std::lock_guard<std::mutex> lock(stats_mutex_);
        now.dark = stats_.dark;
        return wants_every_frame(config_, now);
    });
}

CameraPipeline::~CameraPipeline() { join(); }

void CameraPipeline::start() {
    const std::string owner = "camera " + config_.id;
    // a USB camera's own H.264 (input_format = "h264") is read as a stream (sources.cpp's usb_h264)
    // ("auto": said once the camera's own format is known, sources.cpp's AutoUsbSource)
    bool encoded = config_.source == "file" || config_.source == "stream" ||
                   (config_.source == "camera" && (config_.input_format == "h264" || config_.input_format == "auto"));
    if (config_.record == "passthrough" && !encoded)  // camera_pipeline.py's
        log::warning("camera ", config_.id, ": re-encoding instead of passing the camera's video through: a ",
                     config_.source, " source delivers no encoded video (passthrough is for file and stream sources)");
    if ((config_.idle_keyframes_only || config_.event_keyframes_only) && !encoded)  // camera_pipeline.py's
        log::info("camera ", config_.id, ": idle_keyframes_only / event_keyframes_only ignored: a ", config_.source,
                  " source delivers no encoded video to skip (they are for streams recorded by passthrough)");
    capturing_.start();
    recording_.start();
    if (recorded_) recorded_->start(owner);
    // Named as the Python detector's threads ("capture-cam0"; at most 15 bytes): top -H, perf and the tests
    auto name = [this](const std::string& loop) {
        ::pthread_setname_np(::pthread_self(), (loop + "-" + config_.id).substr(0, 15).c_str());
    };
    capture_thread_ = std::thread([this, owner, name] {
        name(capturing_.name());
        capturing_.supervise(owner, [this] {
            try {
                capture_loop();
            } catch (const std::exception& e) {
                capture_failed(describe(e));
                throw;  // counted, logged and restarted by the supervisor
            }
        }, stop_);
        // a file's event carried on over a throw whose loop was not run again (stopped meanwhile): closed here
        if (detect_ && detect_->clock.cut(detect_->last_ns + 1))
            push(detect_->end(": capture loop failed"));
        push({Item::Stop, {}, ""});
        if (recorded_) recorded_->finish();  // nothing takes path's packets any more
        capture_done_ = true;
        stop_.poke();
    });
    record_thread_ = std::thread([this, owner, name] {
        name(recording_.name());
        recording_.supervise(owner, [this] { record_loop(); }, stop_);
        record_done_ = true;
        stop_.poke();
    });
}

void CameraPipeline::join() {
    if (capture_thread_.joinable()) capture_thread_.join();
    if (record_thread_.joinable()) record_thread_.join();
    if (recorded_ && recorded_->thread().joinable()) recorded_->thread().join();
}

void CameraPipeline::give_up_capture(double waited_s) {
    capture_given_up_ = true;
    char waited[32];
    std::snprintf(waited, sizeof waited, "%.1f", waited_s);  // as the Python detector's "%.1f"
    log::warning("camera ", config_.id, ": capture has not ended ", waited, " s after the stop (a read from ",
                 source_->name(), " that does not return); recording stops without it (the frames handed over are "
                 "recorded, the running event closed at the last of them)");
    push({Item::Stop, {}, ""});  // the recorder ends at it, whatever the capture thread does later
}

bool CameraPipeline::join_or_leave() {
    bool all = true;
    auto settle = [&](std::thread& thread, bool done, const char* what, const std::string& lost) {
        if (!thread.joinable()) return;
        if (done) {
            thread.join();
            return;
        }
        thread.detach();  // never waited for again: the process ends with it running
        all = false;
        log::error("camera ", config_.id, ": its ", what, " thread did not end within the stop's time; left "
                   "behind", lost.empty() ? "" : " (" + lost + ")");
    };
    settle(capture_thread_, capture_done_, "capture", "stuck in a read: nothing after its last frame is recorded");
    bool recorded = record_done_;  // (read once: the words are of a thread still running)
    settle(record_thread_, recorded, "recording", recorded ? "" : recording_left());
    if (recorded_) {
        recorded_->finish();  // its read gives up at once: a moment to end
        for (int i = 0; i < 20 && !recorded_->done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        settle(recorded_->thread(), recorded_->done(), "recorded stream", "stuck in a read of path");
    }
    return all;
}

int64_t CameraPipeline::not_recorded() {
    CameraStats s = stats();
    return disk_.counts().unrecorded + s.dropped_recording + s.recorded_away;
}

CameraStats CameraPipeline::stats() {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    return stats_;
}

std::string CameraPipeline::never_delivered() {
    CameraStats s = stats();
    if (!s.open_error.empty()) return s.open_error;
    if (s.opening_since > 0)
        return "its open had not returned after " + std::to_string(std::lround(steady_s() - s.opening_since)) +
               " s: a disk, device or server that does not answer";
    return s.source_opened ? "opened, but no frame came" : "stopped before it opened";
}

std::vector<std::string> CameraPipeline::problems(bool capture_said) const {
    std::vector<std::string> all;
    const Loop* recorded = recorded_ ? &recorded_->loop() : nullptr;
    for (const Loop* loop : {&capturing_, &recording_, recorded})
        if (std::string problem = loop ? loop->problem() : ""; !problem.empty() && !(capture_said && loop == &capturing_))
            all.push_back(problem);
    return all;
}

namespace {
void add_part(std::string& text, const std::string& part) {
    if (!part.empty()) text += (text.empty() ? "" : "; ") + part;
}
}  // namespace

// Never "ok" while something is wrong (camera_pipeline.py's status, in the same order and words): the camera's
// own trouble first; else a thread stalled or dead; else a full disk or a view it cannot see.
namespace {
// How long the open under way has run once that is kOpenSlowS or more (else 0); each such open counted once
// (stats.py's slow_open_s), from the status and as the open returns. Under stats_mutex_.
double slow_open_s(CameraStats& s, double now) {
    double opening = s.opening_since > 0 ? now - s.opening_since : 0;
    if (opening < kOpenSlowS) return 0;
    if (s.slow_counted != s.opening_since) {
        s.slow_counted = s.opening_since;
        ++s.slow_opens;
    }
    return opening;
}
}  // namespace

Value CameraPipeline::status_value() {
    double opening_s;
    {
        std::lock_guard<std::mutex> lock(stats_mutex_);
        opening_s = slow_open_s(stats_, steady_s());
    }
    CameraStats s = stats();
    // Blind because the capture loop threw: its failure named once, with the loop's count (camera_pipeline.py's
    // _capture_failure_once); it said "capture loop failed (X); capture loop failing (X; 1 failure(s) so far)".
    bool capture_said = false;
    auto failure = capturing_.recent_failure();
    if (failure && (s.state == "failing" || s.state == "lost") &&
        s.lost_why == "capture loop failed (" + failure->first + ")") {
        s.lost_why = "capture loop failed (" + failure->first + "; " + std::to_string(failure->second) +
                     " failure(s) so far)";
        capture_said = true;
    }
    std::vector<std::string> problems;
    if (s.state != "ended") problems = this->problems(capture_said);
    // running, but blind (the view guard), partly blind (a damaged stream: its pictures not analysed; a lost
    // camera is said as lost instead) or recording less
    std::string disk = s.state == "ok" ? s.view_fault : "";
    if (s.state == "ok") add_part(disk, source_->damaged_fault());
    // well under the declared rate for long (delivery_rate.hpp): a live source, not dark, every frame decoded
    bool rate_judged = s.state == "ok" && source_->live && !s.dark && !config_.idle_keyframes_only &&
                       !config_.event_keyframes_only;
    add_part(disk, delivery_.fault(source_->fps, rate_judged, steady_s()));
    if (recorded_) add_part(disk, recorded_->fault());  // path down: detection goes on, events are not recorded
    add_part(disk, disk_.fault());
    // An open that does not return leaves the camera "starting": said once it has run kOpenSlowS.
    std::string slow_open;
    if (opening_s > 0)
        slow_open = "still opening after " + std::to_string(std::lround(opening_s)) +
                    " s (the open has not returned: a disk, device or server that does not answer?)";
    std::string fault;
    if (s.state == "failing" || s.state == "lost") {
        add_part(fault, s.lost_why);
        add_part(fault, slow_open);
        add_part(fault, s.open_error);
        add_part(fault, s.retrying);
        for (const auto& problem : problems) add_part(fault, problem);
    } else if (!problems.empty()) {
        bool all_stalled = true;
        for (const auto& problem : problems) {
            add_part(fault, problem);
            all_stalled = all_stalled && problem.find("stalled") != std::string::npos;
        }
        s.state = all_stalled ? "stalled" : "failing";
    } else if (!disk.empty()) {
        fault = disk;
        if (s.state == "ok") s.state = "degraded";
    } else {
        fault = slow_open;
    }
    if (!disk.empty() && fault != disk) add_part(fault, disk);
    // said last, and not a state of its own (camera_pipeline.py's encoders.status_note)
    if (s.encoder_failures && steady_s() - s.encoder_failed_at < kEncoderFailedShownS)
        add_part(fault, "the " + config_.recording.encoder + " encoder failed " + std::to_string(s.encoder_failures) +
                            " time(s) since start (" + s.encoder_failed_why + "); each frame it failed on went into a "
                            "new segment, none lost");
    auto counts = disk_.counts();
    Value status = Value::map({
        {"state", Value::text(s.state)}, {"fault", Value::text(error_text(fault, kFaultMax))},
        {"dark", Value::boolean(s.dark)},
        {"fps", Value::real(std::round(s.fps * 100) / 100)}, {"frames", Value::integer(s.frames)},
        {"dropped", Value::integer(s.dropped)}, {"dropped_recording", Value::integer(s.dropped_recording)},
        {"width", Value::integer(s.width)}, {"height", Value::integer(s.height)},
        {"events", Value::integer(s.events)}, {"last_event_ms", Value::integer(s.last_event_ms)},
        {"reopens", Value::integer(s.reopens)}, {"faces", Value::integer(0)},
        {"write_failures", Value::integer(counts.failed)},
        {"not_recorded", Value::integer(not_recorded())},
        {"snapshots_replaced", Value::integer(counts.replaced)},
        {"damaged_packets", Value::integer(source_->damaged_packets())},
        {"snapshots_failed", Value::integer(s.snapshots_failed)},
        {"slow_opens", Value::integer(s.slow_opens)},
        {"view", Value::text(s.view)}, {"view_faults", Value::integer(s.view_faults)},
        {"loops", Value::map({{capturing_.name(), capturing_.as_status()}, {recording_.name(), recording_.as_status()}})},
    });
    if (recorded_) status["loops"]["recorded stream"] = recorded_->loop().as_status();
    if (!s.recorder.empty()) status["recorder"] = Value::text(s.recorder);  // once the camera has opened, as Python's
    return status;
}

std::string CameraPipeline::changes() {
    CameraStats s = stats();
    return s.state + '|' + std::to_string(s.events) + '|' + std::to_string(s.events_ended) + '|' + s.view + '|' +
           (s.opened ? "1" : "0") + '|' + s.open_error + '|' + s.lost_why + '|' + std::to_string(s.snapshots_failed) +
           '|' + disk_.fault();
}

// -- capture and detection -------------------------------------------------------------

bool CameraPipeline::open_with_backoff() {
    // Opening (a stream may take its full timeout) and waiting to reopen are not stalls: the camera's state
    // (failing, lost) says what goes on meanwhile (capture.py's _open_with_backoff).
    struct Unwatched {
        Loop& loop;
        explicit Unwatched(Loop& l) : loop(l) { loop.watch(false); }
        ~Unwatched() { loop.watch(true); }
    } unwatched(capturing_);
    double backoff = std::min(kReopenFirstS, config_.reopen_max_s);
    int attempt = 0;
    if (double wait = pace_.wait_s(steady_s()); wait > 0) {
        {
            std::lock_guard<std::mutex> lock(stats_mutex_);
            std::ostringstream fault;
            fault << "it went away soon after it opened; reopening in " << wait << " s";
            stats_.open_error = fault.str();  // the status's fault while it waits
        }
        log::info("camera ", config_.id, ": went away soon after it opened; reopening in ", wait,
                  " s (a source is reopened at once only after a steady run)");
        stop_.wait_for(wait);
    }
    while (!stop_) {
        bool opened = false;
        std::string reason, said;  // the first line of a failure says the path whole, the fault its cut one
        {
            std::lock_guard<std::mutex> lock(stats_mutex_);
            stats_.opening_since = steady_s();  // an open that never returns shows in the status (status_value)
        }
        try { opened = source_->open(); } catch (const std::exception& e) {
            reason = said = error_text(e.what());
        }
        if (!opened && stop_) return false;  // the stop cut the open short: not a failure (still opening, if asked)
        {
            std::lock_guard<std::mutex> lock(stats_mutex_);
            slow_open_s(stats_, steady_s());  // one that took long and returned between two statuses
            stats_.opening_since = 0;
            if (opened) {
                stats_.source_opened = true;
                pace_.opened(steady_s());
                stats_.width = source_->width, stats_.height = source_->height;
                stats_.open_error.clear(), stats_.retrying.clear();
                if (stats_.state == "lost" || stats_.state == "failing") {  // still blind until a picture comes
                    std::string waiting = stats_.opened ? "reopened" : "opened";
                    waiting += ", waiting for its first picture";
                    stats_.lost_why = stats_.lost_why.empty() ? waiting : stats_.lost_why + "; " + waiting;
                }
                return true;
            }
            if (reason.empty()) reason = open_failure(config_), said = open_failure(config_, true);
            stats_.open_error = reason;
            if (config_.source == "file" && !source_->live && !stats_.opened) {
                // A file analysed as fast as possible that never opened is not coming (capture.py's
                // _analysed_once): named once, failing, and the detector exits 3; a live source is retried.
                log::error("camera ", config_.id, ": ", said, " (not retried: a file analysed as fast as possible, "
                           "[camera] realtime = false, is read once)");
                stats_.state = "failing";
                return false;
            }
            if (config_.source == "file" && !source_->live && stats_.opened && attempt + 1 >= kFileReopenAttempts) {
                // One that went away mid-analysis (deleted, emptied) and would not reopen (capture.py's
                // _analysis_abandoned): a few reopens ride out a network share's hiccup, more would wait for ever.
                std::string gave_up = "gave up after " + std::to_string(attempt + 1) + " reopen attempts: a file "
                                      "analysed as fast as possible is not waited for; its analysis is incomplete";
                stats_.open_error = reason + " (" + gave_up + ")";
                log::error("camera ", config_.id, ": ", said, " (", gave_up, ")");
                stats_.state = "failing", stats_.retrying.clear(), stats_.abandoned = true;
                return false;
            }
            if (!stats_.opened) {  // never delivered a frame
                if (stats_.state != "failing") {
                    log::error("camera ", config_.id, ": ", said);
                    stats_.state = "failing";
                }
            } else if (stats_.state != "lost") {
                log::warning("camera ", config_.id, ": lost (", said, ")");
                stats_.state = "lost";
            }
            log::info("camera ", config_.id, ": ", stats_.opened ? "reopen" : "open", " attempt ", ++attempt,
                      " failed; next in ", backoff, " s");
            char retrying[80];
            std::snprintf(retrying, sizeof retrying, "retrying (attempt %d failed, next in %.1f s)", attempt, backoff);
            stats_.retrying = retrying;
            ++stats_.reopens;  // with the attempt its status names (counted after the wait, it was one behind)
        }
        stop_.wait_for(backoff);
        backoff = std::min(backoff * 2, config_.reopen_max_s);
    }
    return false;
}

void CameraPipeline::push(Item item) {
    if (item.kind == Item::Start) handed_index_ = -1, handed_end_ns_ = INT64_MIN;
    for (const EncodedPacket& packet : item.frame.packets)
        handed_index_ = packet.index, handed_end_ns_ = std::max(handed_end_ns_, packet.pts_ns);
    std::unique_lock<std::mutex> lock(queue_mutex_);
    if (item.kind == Item::FrameItem) {
        while (queued_frames_ >= max_frames_ && !stop_) {
            if (!source_->live) {  // nothing is lost by waiting for the encoder
                capturing_.beat();  // waiting on a busy recorder is not a stuck capture
                queue_cv_.wait_for(lock, std::chrono::milliseconds(100));
                continue;
            }
            for (auto it = queue_.begin(); it != queue_.end(); ++it) {
                if (it->kind != Item::FrameItem) continue;
                queue_.erase(it);
                --queued_frames_;
                std::lock_guard<std::mutex> stats_lock(stats_mutex_);
                if (stats_.dropped_recording++ % 100 == 0)  // named as frames.py's recorder_behind names it
                    log::warning("camera ", config_.id, ": ", it->frame.passthrough ? "the passthrough recorder" : "encoder",
                                 " is ", max_frames_, " frames behind; dropping the oldest frames of the recording (",
                                 stats_.dropped_recording, " so far)");
                break;
            }
        }
        ++queued_frames_;
    }
    queue_.push_back(std::move(item));
    queue_cv_.notify_all();
}

void CameraPipeline::capture_loop() {
    const auto& cfg = config_.motion;
    const auto& rec = config_.recording;
    if (resume_ && detect_) {  // restarted after a throw: a file goes on after the frame that failed (kept open)
        resume_ = false;
        {
            std::lock_guard<std::mutex> lock(stats_mutex_);
            ++stats_.dropped;
        }
        log::warning("camera ", config_.id, ": the file goes on after the frame that failed (1 frame not analysed)");
    } else {
        resume_ = false;
        detect_.reset();  // a source (re)opened: detection starts clean
        if (!open_with_backoff()) return;
    }
    const double fps = source_->fps > 0 ? source_->fps : config_.fps;  // the source's, once open
    if (!detect_) detect_ = std::make_unique<DetectState>(config_, fps);
    DetectState& state = *detect_;
    auto& motion = state.motion;
    auto& clock = state.clock;
    auto& pre_roll = state.pre_roll;
    // Opt-in idle_detect_fps (detector/pipeline/idle_rate.py): while no event runs, the last look saw
    // no motion and it is not dark, detection looks only this often; frames are still recorded.
    const int64_t idle_period_ns = cfg.idle_detect_fps > 0 ? int64_t(1e9 / cfg.idle_detect_fps) : 0;
    // Detection runs inline, so the pre-roll needs no slack for a detector lagging behind: at 640x480 each
    // second kept is 7 MB at 15 fps (I420). An event's footage may start a look interval before its onset
    // (first_pre_roll_ns): kept too. One frame more at the source's rate (not [camera] fps: a 10 fps file
    // under the default 15 lost a frame).
    const int64_t keep_ns = std::max(int64_t(rec.pre_roll_s * 1e9), idle_period_ns) + int64_t(1e9 / std::max(1.0, fps));
    const int64_t pre_roll_ns = int64_t(rec.pre_roll_s * 1e9);
    auto& fps_window = state.fps_window;
    auto& event_id = state.event_id;
    auto& snapshots = state.snapshots;
    auto& best_area = state.best_area;
    auto& last_snapshot_ns = state.last_snapshot_ns;
    auto& next_check_ns = state.next_check_ns;
    auto& last_ns = state.last_ns;
    auto& relearning = state.relearning;
    constexpr int64_t kIdleSlackNs = 5000000;  // a frame this early is on time (15 fps at 5 looks: every third)
    auto& idle_next_ns = state.idle_next_ns;
    auto& quiet_look_ns = state.quiet_look_ns;
    auto& last_look_ns = state.last_look_ns;
    auto& skipped = state.skipped;
    auto& moving = state.moving;
    auto& zone_set = state.zone_set;
    auto& guard = state.guard;
    // A throw restarts this loop (Loop::supervise). On a live source, closed to be reopened, the running event is
    // closed at its last frame first, its open segment committed as the final one; a file goes on after the frame
    // that failed, its event carried on (DetectState; closed at the end of the thread if the loop is not run again).
    // An event ends by decode time: with B-frames its last packet (a P-frame) is shown after frames decoded after
    // it, whose packets come with the next frames (passthrough.py's _shown_before_the_end). Its End waits for
    // them: the packets right after its last, not keyframes, shown before its latest time (at most 16, as
    // Python's LEADING_MAX); without them its last segment jumped over those frames. `next`: none, end it now.
    auto end_after_tail = [&](const Frame* next) {
        if (!state.ending) return;
        bool done = !next || !next->passthrough || ++state.tail_frames > 16;
        for (size_t i = 0; !done && i < next->packets.size(); ++i) {
            const EncodedPacket& packet = next->packets[i];
            done = packet.keyframe || packet.index != handed_index_ + 1 || packet.pts_ns >= handed_end_ns_ ||
                   state.tail.size() >= 16;
            if (!done) state.tail.push_back(packet), handed_index_ = packet.index;
        }
        if (!done) return;
        if (!state.tail.empty()) {
            Frame shown;
            shown.passthrough = true, shown.packets = std::move(state.tail);
            push({Item::FrameItem, std::move(shown), ""});
        }
        push(std::move(*state.ending));
        state.ending.reset(), state.tail.clear(), state.tail_frames = 0;
    };
    OnUnwind closing([&] {
        end_after_tail(nullptr);
        if (config_.source != "file" && clock.cut(last_ns + 1)) push(state.end(": capture loop failed"));
    });  // then capture_failed() keeps the file or closes the source
    while (!stop_) {
        capturing_.beat();
        Frame frame;
        if (!source_->read(frame)) {  // a read that never returns stops the beats: the camera is said stalled
            if (stop_ && !source_->ended) break;  // the stop cut the read short: the camera is not lost
            if (source_->ended) {
                std::lock_guard<std::mutex> lock(stats_mutex_);
                if (!source_->cut_short.empty()) {  // truncated while it was read: the rest is never analysed
                    stats_.open_error = source_->cut_short + " (its analysis is incomplete)";
                    log::error("camera ", config_.id, ": ", stats_.open_error);
                    stats_.state = "failing", stats_.abandoned = true;
                    break;
                }
                log::info("camera ", config_.id, ": end of file ", config_.detect_path.empty() ? config_.path : config_.detect_path);
                stats_.state = "ended";
                break;
            }
            {
                std::lock_guard<std::mutex> lock(stats_mutex_);
                log::warning("camera ", config_.id, ": ", stats_.opened ? "lost" : "opened but gives no frame",
                             " (no frame from ", source_->name(),
                             source_->lost_why.empty() ? "" : ": " + source_->lost_why, "); reopening with backoff up to ",
                             config_.reopen_max_s, " s");
                stats_.state = stats_.opened ? "lost" : "failing";
                // the fault's first words until a picture comes (a reopen that takes a stream's timeout is not ""),
                // with the source's reason whether or not a frame ever came (capture.py's "opened but gives no frame")
                stats_.lost_why = stats_.opened ? std::string("lost: no frame from ") + (recorded_ ? "the detection stream " : "") +
                                                      middle_cut(source_->name(), kPathShownMax) +
                                                      (source_->lost_why.empty() ? "" : ": " + source_->lost_why)
                                                : "opened but gives no frame: " +
                                                      (source_->lost_why.empty() ? std::string("no frame") : source_->lost_why);
            }
            end_after_tail(nullptr);
            source_->close();
            // The running event ends at the last frame received and its open segment is committed
            // now, not left in staging for as long as the camera is gone (capture.py's LOST marker).
            if (clock.cut(last_ns + 1)) push(state.end(" lost"));
            if (!open_with_backoff()) break;
            motion.restart();  // what was learnt of the picture is stale (base.py's restart)
            continue;
        }
        if (recorded_) recorded_->attach(frame, !source_->live, capturing_);  // path's packets to record, if any
        if (recorded_ && clock.recording && !recorded_->fault().empty()) {  // path away: nothing records this frame
            std::lock_guard<std::mutex> lock(stats_mutex_);
            ++stats_.recorded_away;  // (detect.py counts the same frames)
        }
        last_ns = frame.time_ns;
        bool dark = false;
        if (!frame.undecoded) {  // the status counts the pictures decoded, and their rate (capture.py's)
            fps_window.push_back(frame.time_ns);
            if (fps_window.size() > 30) fps_window.pop_front();
            delivery_.delivered(steady_s());
            std::lock_guard<std::mutex> lock(stats_mutex_);
            if (stats_.state != "ok") {
                if (stats_.state == "lost") log::info("camera ", config_.id, ": ok again");
                stats_.state = "ok", stats_.lost_why.clear();
            }
            stats_.opened = true;
            if (fps_window.size() > 1)
                stats_.fps = double(fps_window.size() - 1) * 1e9 / double(std::max<int64_t>(1, fps_window.back() - fps_window.front()));
            ++stats_.frames;
            stats_.width = frame.width, stats_.height = frame.height;
            if (recorded_) stats_.recorder = recorded_->mode();  // path's ("" until it has opened, as Python's)
            else stats_.recorder = frame.passthrough ? "passthrough" : "reencode";  // a literal: no allocation
            dark = stats_.dark;
        }
        if (!frame.undecoded || frame.passthrough) pre_roll.push_back(recorded(frame));
        if (state.ending) {
            Frame next = recorded(frame);
            end_after_tail(&next);
        }
        // An event the view guard starts begins where the cover or turn began minus the pre-roll, BLOCKED_S (4 s)
        // before it is said: while one is suspected, kept from there, up to kDetectSlackNs more (what the Python
        // detector's buffer holds always, camera_pipeline.py's DETECT_SLACK_NS; here only while it is needed).
        int64_t keep_from_ns = frame.time_ns - keep_ns;
        if (int64_t since_ns = guard.suspect_since_ns())
            keep_from_ns = std::max(std::min(keep_from_ns, since_ns - pre_roll_ns), keep_from_ns - kDetectSlackNs);
        // Pictures not analysed since the last look without motion (damaged ones): an event starting at the next
        // looks reaches back to it (first_pre_roll_ns), so kept from there too, up to kDetectSlackNs more.
        if (!clock.recording && quiet_look_ns)
            keep_from_ns = std::max(std::min(keep_from_ns, quiet_look_ns), keep_from_ns - kDetectSlackNs);
        trim_pre_roll(pre_roll, keep_from_ns);
        if (frame.undecoded) {  // keyframes only (keyframe_gate.hpp): recorded, not analysed; the clock holds
            skipped = true;
            if (clock.recording && frame.passthrough) push({Item::FrameItem, recorded(frame), ""});
            continue;
        }

        MotionResult result;
        std::optional<ViewFault> blinded;
        // A damaged picture (damaged_packets.hpp) is recorded, not analysed (detect.py's _damaged): its broken
        // blocks were motion that was not there, or hid motion that was; learnt, they stayed in the background.
        bool look = !frame.damaged && !(dark && !clock.recording && frame.time_ns < next_check_ns);
        if (look && idle_period_ns > 0) {
            if (moving || clock.recording || dark || frame.time_ns + kIdleSlackNs >= idle_next_ns)
                idle_next_ns = frame.time_ns + idle_period_ns;
            else
                look = false;
        }
        if (!zone_set) {  // zones are in picture pixels: made at the first frame's size (detect.py's _setup)
            zone_set = true;
            try {
                motion.watch(build_zone_mask(config_.zones, frame.width, frame.height));
            } catch (const ZoneError& e) {
                log::error("camera ", config_.id, ": ", e.what(), "; watching the whole picture");
            }
        }
        if (!look) skipped = true;
        if (look) {
            // source frames since the last look: 1 unless some were skipped (detect.py's _frames_since_look)
            int frames = 1;
            if (skipped && last_look_ns)
                frames = std::max(1, int(std::llround(double(frame.time_ns - last_look_ns) * std::max(1.0, fps) / 1e9)));
            skipped = false;
            int64_t previous_look_ns = std::exchange(last_look_ns, frame.time_ns);
            result = motion.detect(frame.luma(), true, frames);
            blinded = watch_view(guard, motion.gray(), frame);
            // event_keyframes_only: a quiet look a GOP after a look with motion counts the post-roll from just
            // before itself (detect.py's _motion_between_looks): the motion may have gone on until then
            if (config_.event_keyframes_only && clock.recording && moving && !result.motion &&
                frame.time_ns - previous_look_ns > int64_t(1e9 / std::max(1.0, fps)) * 3 / 2)
                clock.last_motion_ns = std::max(clock.last_motion_ns, frame.time_ns - int64_t(1e9 / std::max(1.0, fps)));
            moving = result.motion;
            bool now_dark = result.dark;
            if (now_dark != dark) {
                log::info("camera ", config_.id, now_dark ? ": entering dark mode (brightness " : ": leaving dark mode (brightness ",
                          result.brightness, ")");
                std::lock_guard<std::mutex> lock(stats_mutex_);
                stats_.dark = dark = now_dark;
            }
            // base.py's skip(): the next look is set only by a look in the dark while no event runs
            if (dark && !clock.recording) next_check_ns = frame.time_ns + int64_t(cfg.dark_interval_s * 1e9);
            if (result.global_change != relearning) {
                relearning = result.global_change;
                if (relearning)
                    log::info("camera ", config_.id, ": the whole picture changed (", int(result.area_fraction * 100),
                              "%): lighting, not motion; re-learning the background");
            }
        }
        // The event clock holds over a damaged picture: a running event goes on (and records it), a trigger
        // streak is not broken
        auto action = !frame.damaged ? clock.step(frame.time_ns, result.motion)
                      : clock.recording ? EventClock::Action::Continue : EventClock::Action::None;
        if (blinded && action == EventClock::Action::None && clock.begin(blinded->since_ns, frame.time_ns))
            action = EventClock::Action::Start;  // the covering itself is evidence: its pre-roll is recorded
        if (look && !result.motion) quiet_look_ns = frame.time_ns;
        if (action == EventClock::Action::Start) {
            event_id = wire::new_message_id();
            {
                std::lock_guard<std::mutex> lock(stats_mutex_);
                ++stats_.events;
                stats_.last_event_ms = frame.time_ns / 1000000;
            }
            if (blinded)
                log::info("camera ", config_.id, ": view ", blinded->kind, ", event ", event_id,
                          " starts to keep what came before");
            else
                log::info("camera ", config_.id, ": motion, event ", event_id, " starts (area ", result.area_fraction,
                          ", ", result.boxes.size(), " box(es))");
            end_after_tail(nullptr);  // the last event's End first
            state.snapshots_kept = state.snapshots_failed = 0;
            ++(snapshot(frame, event_id, result, 0) ? state.snapshots_kept : state.snapshots_failed);  // before all else
            snapshots = 1, best_area = result.area_fraction, last_snapshot_ns = frame.time_ns;
            push({Item::Start, {}, event_id});
            int64_t from_ns = first_pre_roll_ns(clock.onset_ns, quiet_look_ns, rec.pre_roll_s, fps);
            for (size_t i = pre_roll_start(pre_roll, from_ns); i < pre_roll.size(); ++i)
                if (pre_roll[i].passthrough || pre_roll[i].time_ns >= from_ns) push({Item::FrameItem, pre_roll[i], ""});
        } else if (action == EventClock::Action::Continue) {
            if (snapshots < kMaxSnapshots && result.motion && result.area_fraction > best_area * 1.5 &&
                frame.time_ns - last_snapshot_ns >= kSnapshotGapNs) {
                ++(snapshot(frame, event_id, result, snapshots) ? state.snapshots_kept : state.snapshots_failed);
                ++snapshots, last_snapshot_ns = frame.time_ns;
                best_area = std::max(best_area, result.area_fraction);
            }
            push({Item::FrameItem, recorded(frame), ""});
        } else if (action == EventClock::Action::End) {
            {
                std::lock_guard<std::mutex> lock(stats_mutex_);
                ++stats_.events_ended;
            }
            log::info("camera ", config_.id, ": event ", event_id, " ends");
            state.ending = state.end();
            Frame next = recorded(frame);  // not the event's: its packets may be
            end_after_tail(&next);
        }
    }
    end_after_tail(nullptr);
    source_->close();
    if (clock.cut(last_ns + 1)) push(state.end());
}

// The capture loop threw (the supervisor restarts it). A file is kept open and the restarted loop goes on
// after the frame that failed: opened again it started at its first frame, and every event before the
// failure was recorded again at each pass, for ever (Python's reopened file resumes: av_source.py's
// _resume). A live source is closed, to be reopened, and the camera says so until it is back (capture.py's
// run): "ok" through the reopen pace's wait (up to reopen_max_s, once the loop's 10 s of "failing" were
// over), it was blind without saying so.
void CameraPipeline::capture_failed(const std::string& error) {
    if (config_.source == "file") {
        resume_ = true;
        return;
    }
    {
        std::lock_guard<std::mutex> lock(stats_mutex_);
        stats_.lost_why = "capture loop failed (" + error + ")";
        stats_.state = stats_.opened ? "lost" : "failing";
    }
    try {
        source_->close();
    } catch (const std::exception& e) {  // a driver that fails to close must not keep the camera down
        log::warning("camera ", config_.id, ": closing the source failed (", e.what(), ")");
    }
}

// The view guard's look at detection's picture (detect.py's _watch_view): logged once on entering and once on
// leaving, the status carries the fault while it lasts. Returns the fault that just blinded the camera when it
// is blocked or moved (an event starts); a frozen picture has nothing new to record.
std::optional<ViewFault> CameraPipeline::watch_view(ViewGuard& guard, const cv::Mat& gray, const Frame& frame) {
    ViewChange change = guard.look(gray, frame.time_ns, frame.keyframe);
    {
        std::lock_guard<std::mutex> lock(stats_mutex_);
        const auto& fault = guard.fault();
        stats_.view = fault ? fault->kind : "ok";
        stats_.view_fault = fault ? fault->text : "";
        stats_.view_faults = guard.episodes();
    }
    if (change.ended && !change.started)
        log::info("camera ", config_.id, ": the view is back (", change.ended->kind, " for ",
                  std::lround(double(frame.time_ns - change.ended->since_ns) / 1e9), " s)");
    if (!change.started) return std::nullopt;
    log::warning("camera ", config_.id, ": ", change.started->text);
    if (change.started->kind == "frozen") return std::nullopt;
    return change.started;
}

bool CameraPipeline::snapshot(const Frame& frame, const std::string& event_id, const MotionResult& result, int seq) {
    std::string payload;
    try {
        Frame full;  // fast_decode: what a person looks at is decoded in full (full_decode.hpp)
        payload = encode_jpeg(source_->full_picture(full) ? full.bgr() : frame.bgr(), config_.recording.snapshot_quality);
    } catch (const std::exception& e) {
        log::error("camera ", config_.id, ": JPEG encoding of snapshot ", seq, " of event ", event_id, " failed (",
                   e.what(), "; ", snapshot_failed(), " snapshot(s) failed since start)");
        return false;
    }
    Value header = wire::make_header("snapshot");
    Value boxes = Value::array();
    for (const auto& box : result.boxes) boxes.a.push_back(box_value(box));
    header["camera"] = Value::text(config_.id);
    header["event"] = Value::text(event_id);
    header["width"] = Value::integer(frame.width);
    header["height"] = Value::integer(frame.height);
    header["seq"] = Value::integer(seq);
    header["content_type"] = Value::text("image/jpeg");
    header["boxes"] = boxes;
    header["faces"] = Value::array();
    header["motion_area"] = Value::real(std::round(result.area_fraction * 10000) / 10000);
    header["size"] = Value::integer(int64_t(payload.size()));
    header["sha256"] = Value::text(wire::sha256_hex(payload));
    header["time_ms"] = Value::integer(frame.time_ns / 1000000);
    try {
        disk_.commit_snapshot(header, payload);  // held in memory if the disk refuses it
    } catch (const std::exception& e) {  // the event is recorded all the same
        log::error("camera ", config_.id, ": snapshot ", seq, " of event ", event_id, " failed (", e.what(), "; ",
                   snapshot_failed(), " snapshot(s) failed since start)");
        return false;
    }
    return true;
}

int64_t CameraPipeline::snapshot_failed() {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    return ++stats_.snapshots_failed;
}

}  // namespace qc
