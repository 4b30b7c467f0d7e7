// One camera: source -> motion -> events -> recorder -> outbox, as detector/camera.py.
//
//   capture thread: read, detect (on a 160-pixel gray copy: cheap), watch the view on the same copy
//                   (view_guard.hpp), run the event clock, commit the instant snapshot, keep the
//                   pre-roll, hand frames to the recorder
//   record thread:  encode 2 s MP4 segments into .staging/, commit each to the outbox;
//                   while the disk ladder (disk.hpp) holds something back, let it retry every 0.1 s;
//                   otherwise asleep until capture hands it an item
//
// Each thread runs its Loop (supervise.hpp): one that has not beaten for 3 frame intervals
// (at least 1 s) makes the camera "stalled", never "ok" (camera_pipeline.py's status); one that
// throws is restarted after a backoff, the camera "failing" for 10 s. On a file the restarted
// capture loop goes on after the frame that failed with detection's state as it was (DetectState,
// on the pipeline): the running event carries on, as the Python detect stage's. A live source is
// closed and reopened: its running event is closed at its last frame first, and the restarted
// loop starts clean (the background learnt again). The recorder's event and segment numbering
// live on the pipeline (RecordState), so a restarted recorder carries its event on, as
// record.py's stage object.
//
// Capture never waits for the encoder when the source is live: beyond buffer_max_s of
// frames waiting, the oldest are dropped, counted and logged (dropped_recording). A file
// read as fast as possible waits instead and loses nothing.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "config.hpp"
#include "delivery_rate.hpp"
#include "disk.hpp"
#include "outbox.hpp"
#include "sources.hpp"
#include "stop.hpp"
#include "supervise.hpp"
#include "value.hpp"
#include "view_guard.hpp"

namespace qc {

class RecordedStream;  // recorded_stream.hpp: path's packets beside a [camera] detect_path

// Why the camera's source would not open and the fix (capture.py open_failure): the one capture opens
// (detect_path when set), or `recorded`: path beside it (recorded_stream.cpp). Its path cut unless `whole`.
std::string open_failure(const CameraConfig& config, bool whole = false, bool recorded = false);

// When an event starts and ends (detector/events.py): trigger_frames detections in a row
// start it; it ends post_roll after the last motion, not before min_event after its onset,
// and is cut at max_event.
struct EventClock {
    enum class Action { None, Start, Continue, End };
    int64_t post_roll_ns, max_event_ns, min_event_ns;
    int trigger_frames;
    bool recording = false;
    int64_t onset_ns = 0, last_motion_ns = 0, end_ns = 0;
    int streak = 0;
    int64_t streak_start_ns = 0;
    Action step(int64_t time_ns, bool motion);
    // The source is gone: a running event ends at time_ns and a trigger streak starts over.
    // True when an event was running (its end is end_ns).
    bool cut(int64_t time_ns);
    // Start an event at time_ns with no motion (the view guard saw the camera blinded); false if one runs.
    // Its footage starts from onset_ns (minus the pre-roll): when the view began to go.
    bool begin(int64_t onset_ns, int64_t time_ns);
};

// Where an event's footage starts (pipeline/detect.py's _first_pre_roll_ns): pre_roll_s before the
// onset, and never after the last look without motion. Looking at every frame, the motion began a
// frame before the onset at most; looking less while idle (idle_detect_fps, dark_interval_s) it may
// have begun just after the last quiet look, a look interval before the onset: with an interval
// longer than the pre-roll the intruder's first seconds would not be recorded.
int64_t first_pre_roll_ns(int64_t onset_ns, int64_t quiet_look_ns, double pre_roll_s, double fps);

// When to reopen a source that went away (detector/pipeline/reopen.py): at once after a
// steady run of kSteadyS, else after a wait doubling from 0.5 s up to reopen_max_s, so a
// stream that ends soon after every open (an HTTP file) is not reopened in a tight loop.
struct ReopenPace {
    static constexpr double kFirstS = 0.5, kSteadyS = 10.0;
    double max_s, next_s;
    double opened_at = -1;  // seconds on a steady clock; < 0: never opened
    explicit ReopenPace(double reopen_max_s) : max_s(reopen_max_s), next_s(std::min(kFirstS, reopen_max_s)) {}
    void opened(double now) { opened_at = now; }
    double wait_s(double now);  // seconds to wait before reopening a source that went away at now (0: at once)
};

struct CameraStats {
    // starting, ok, failing (never delivered a frame), lost (worked, then no frames), ended; the status
    // adds stalled, failing (a loop threw in the last 10 s) and degraded (status_value, protocol.md)
    std::string state = "starting";
    bool opened = false;     // delivered a frame at least once
    bool abandoned = false;  // a file analysed as fast as possible went away or shrank: its analysis is incomplete
    std::string open_error;  // why the source does not open now, with the likely fix; "" when it does
    bool source_opened = false;  // an open of the source has returned success (frames or not)
    double opening_since = 0;    // steady seconds when the open under way began; 0 while none is
    int64_t slow_opens = 0;      // opens that ran kOpenSlowS or more (returned or not) since start
    double slow_counted = 0;     // the opening_since of the last open counted in slow_opens
    std::string lost_why;    // why a source that worked was closed (its capture loop threw), until it opens again
    std::string retrying;    // while it is retried: "retrying (attempt N failed, next in X s)" (stats.py)
    bool dark = false;
    std::string recorder;  // passthrough or reencode: how the last frame is recorded ("" before the first)
    std::string view = "ok";  // the view guard's verdict: ok, blocked, moved, frozen (view_guard.hpp)
    std::string view_fault;   // what the camera cannot see, in words, while it cannot
    int64_t view_faults = 0;  // view faults since start
    int64_t snapshots_failed = 0;  // snapshots not made: their JPEG encoding or their commit threw
    int64_t frames = 0, dropped = 0, dropped_recording = 0, events = 0, last_event_ms = 0, reopens = 0;
    int64_t events_ended = 0;  // events that ended by their clock (for the status file's changes, not sent)
    int64_t recorded_away = 0;  // an event's frames seen while path (beside a detect_path) was away: not recorded
    int64_t encoder_failures = 0;  // segments whose encoder failed on a frame, since start (record.cpp)
    std::string encoder_failed_why;  // the last failure's cause, on one line
    double encoder_failed_at = 0;    // steady seconds of the last: in the camera's fault kEncoderFailedShownS after it
    double fps = 0.0;
    int width = 0, height = 0;
};

class CameraPipeline {
public:
    // `stop` is poked when both threads have ended (main waits on it for finished()).
    CameraPipeline(const CameraConfig& config, Outbox& outbox, Stop& stop);
    ~CameraPipeline();
    void start();
    void join();
    bool finished() const { return capture_done_ && record_done_; }
    bool capture_ended() const { return capture_done_; }
    // Nothing more to wait for at the stop: both threads ended, or the recorder did and the capture was given up.
    bool settled() const { return record_done_ && (capture_done_ || capture_given_up_); }
    // At the detector's stop, for a capture thread still in a read `waited_s` after it (a stream or a disk that
    // stopped answering): the recorder is told to stop without it, so the running event's open segment is
    // committed from the frames already handed over (record.cpp), not lost with the stuck thread.
    void give_up_capture(double waited_s);
    // At the end of the stop: joins the threads that ended; one still running is left behind (detached, said in a
    // line) and false returned: the process must then end without destroying this camera (main.cpp, _exit).
    bool join_or_leave();
    bool record_ended() const { return record_done_; }
    // Segments whose commit the stop's end cut short, left in .staging/ with their header for the next start.
    int64_t staged_at_exit() const { return staged_at_exit_; }
    const std::string& id() const { return config_.id; }
    CameraStats stats();
    int64_t lost_at_stop() { return disk_.counts().lost_at_stop; }  // snapshots held in memory at the stop
    // Frames not recorded since start (refused by the disk, dropped behind, recorded away) and snapshots dropped
    // (replaced, the lost at the stop among them): quickcam status's not_recorded and snapshots_replaced, for the
    // stop's line (app.py's _say_outbox_left).
    int64_t not_recorded();
    int64_t snapshots_dropped() { return disk_.counts().replaced; }
    // Why a camera that delivered no frame did not, for the stop's line: only what is known (stats.py's
    // never_delivered): its open error, an open that had not returned, or an open with no frame after it.
    std::string never_delivered();
    // What is wrong with its threads, in words (none when nothing is); without the capture loop's when the
    // camera's own words name its failure already (status_value).
    std::vector<std::string> problems(bool capture_said = false) const;
    Value status_value();  // the camera status map of the status message
    // What of the camera's state, changed, has the status file written at once (opened or lost, an event
    // started or ended, a fault): status_file.py's camera_changes. Cheap: the status thread asks 4 times a second.
    std::string changes();

private:
    struct Item {
        enum Kind { Start, FrameItem, End, Stop } kind;
        Frame frame;
        std::string event_id;
        std::string cut = "";  // End before the event's own end, closed at its last frame: why (" lost", ...)
        int snapshots_kept = 0, snapshots_failed = 0;  // End: the event's snapshots, made (or held) and failed
    };
    struct RecordState;  // record.cpp: the recorder's event, segment numbering and open segment
    // record.cpp: at the stop's end with the recorder still running, what becomes of the segment it holds (words;
    // frames lost with it counted in not_recorded).
    std::string recording_left();
    int64_t staged_at_exit_ = 0;
    static std::shared_ptr<RecordState> make_record_state();
    struct DetectState;  // camera.cpp: the background, the event clock, the pre-roll, the running event

    void capture_loop();
    void record_loop();
    bool open_with_backoff();
    void capture_failed(const std::string& error);
    void push(Item item);
    std::optional<ViewFault> watch_view(ViewGuard& guard, const cv::Mat& gray, const Frame& frame);
    // false when it failed (counted and logged); true when committed, or held in memory by a full disk
    bool snapshot(const Frame& frame, const std::string& event_id, const struct MotionResult& result, int seq);
    int64_t snapshot_failed();  // one more snapshot failed: the count since start

    CameraConfig config_;
    Outbox& outbox_;
    DiskWrites disk_;  // every write of this camera into the outbox: held and stepped down on a full disk
    Stop& stop_;
    std::unique_ptr<FrameSource> source_;  // with a detect_path, the substream (decoded for detection)
    DeliveryRate delivery_;  // frames handed on against the source's declared rate (status: degraded)
    std::unique_ptr<RecordedStream> recorded_;  // with a detect_path, path's packets (recorded); else none
    std::thread capture_thread_, record_thread_;
    std::atomic<bool> capture_done_{false}, record_done_{false};
    std::atomic<bool> capture_given_up_{false};  // give_up_capture(): the recorder stopped without the capture
    Loop capturing_, recording_;  // the threads' heartbeats: "capture" (capture and detection), "recording"

    std::mutex stats_mutex_;
    CameraStats stats_;

    std::mutex queue_mutex_;
    std::condition_variable queue_cv_;
    std::deque<Item> queue_;
    size_t queued_frames_ = 0, max_frames_;
    // capture thread: the running event's last packet handed to the recorder, and the latest time it shows
    int64_t handed_index_ = -1, handed_end_ns_ = 0;
    ReopenPace pace_;
    bool resume_ = false;  // the capture loop threw on a file, kept open: the restarted loop reads on (capture thread)
    // Detection's state, kept across a restart of the capture loop on a file that goes on (capture thread): the
    // running event carries on, as the Python detect stage's state lives on its object.
    std::unique_ptr<DetectState> detect_;
    std::shared_ptr<RecordState> record_;  // survives a restart of the record loop
};

}  // namespace qc
