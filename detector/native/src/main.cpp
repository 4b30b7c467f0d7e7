// quickcam-native-detector: the detector in C++, on the same wire and the same disk layout as
// `quickcam detector` (docs/native.md). Usage:
//   quickcam-native-detector [--config quickcam.toml] [--seconds N]   run until SIGINT/SIGTERM
//   quickcam-native-detector --vectors tests/vectors/protocol          check the codec, then exit
//   quickcam-native-detector [--config F] --motion-trace WxH [--fps N] [--every K]  the motion core on raw gray frames
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <memory>
#include <ctime>
#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <thread>

#include "av_source.hpp"
#include "camera.hpp"
#include "clock.hpp"
#include "config.hpp"
#include "endpoint.hpp"
#include "link.hpp"
#include "logging.hpp"
#include "motion_trace.hpp"
#include "outbox.hpp"
#include "status_file.hpp"
#include "status_header.hpp"
#include "stop.hpp"
#include "stream_clock_trace.hpp"
#include "vectors.hpp"

extern char** environ;

namespace {

// Set at SIGINT/SIGTERM (by the thread that waits for them), --seconds or once every source ended;
// every thread that waits for a deadline waits on it, so a stop wakes it at once. Never destroyed: the
// detached signal thread may still set it while static objects are destroyed at exit (a destroyed
// mutex and condition variable).
qc::Stop& g_stop = *new qc::Stop;
// The stop, from the signal to the exit, in one budget that systemd and compose (30 s) never cut short, in
// detector/app.py's parts and order: the cameras' open segments committed first, then the ack drain, the
// link's last pass, the last status. Each part has its own bound; a thread that does not end within its
// part is left behind (said in a line) and the process ends all the same (stop_cameras, _exit).
constexpr double kStopMaxS = 25.0;

// The open-files limit, as common/open_files.py: a soft limit below what the detector needs is raised to the
// hard one (said once); a hard one below it ends the start on one line naming the fix (FINDINGS.md #22).
constexpr rlim_t kFilesNeeded = 64;  // 16 cameras ran in 64

void ensure_open_files() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= kFilesNeeded)
        return;
    if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < kFilesNeeded)
        throw qc::ConfigError("detector: too few open files allowed (limit " + std::to_string(limit.rlim_max) +
                              ", it needs " + std::to_string(kFilesNeeded) +
                              "): raise it (ulimit -n, LimitNOFILE= in systemd, docker's --ulimit nofile)");
    rlim_t was = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) == 0)
        qc::log::warning("detector: the open-files limit was ", was, ", below the ", kFilesNeeded,
                         " it needs; raised to the hard limit ",
                         limit.rlim_max == RLIM_INFINITY ? std::string("unlimited") : std::to_string(limit.rlim_max));
}
constexpr double kCameraJoinS = 10.0;  // all cameras together, to close their open segments (into the outbox)
// Of it, the capture threads: one still in a read by then (a stream or a disk that stopped answering) is given
// up, and its recorder commits the open segment from the frames already handed over (give_up_capture).
constexpr double kCaptureJoinS = 2.0;
// A recorder still running at kCameraJoinS is waited for until then (its last segment's commit on a slow disk; the
// drain gets what is left, at least 2 s). Past it, a segment whose commit has begun stays in staging with its
// header for the next start (Outbox::commit_left): app.py's RECORDER_JOIN_S.
constexpr double kRecorderJoinS = 19.0;
constexpr double kLinkCloseS = 2.0;  // after the drain: the link's last pass and its last status (1 s of linger)
constexpr double kStatusCloseS = 2.0;  // the last status write (running: false)
// Wait at stop for acks as long as one may take (link.ack_timeout_s), at least 5 s, within what the budget leaves.
constexpr double kShutdownDrainMinS = 5.0, kShutdownDrainMaxS = kStopMaxS - kLinkCloseS - kStatusCloseS;
constexpr int kExitNoFrame = 3;  // a camera never delivered a frame: the run did not watch what it was asked to
constexpr double kStatusIntervalS = 2.0;
constexpr double kChangePollS = 0.25;  // how often the status thread looks for a camera's change of state

// SIGINT and SIGTERM are blocked in every thread (set before any starts: threads inherit the mask)
// and taken by one that waits for them, so that the others wait on g_stop instead of polling a flag
// a signal handler sets (a handler may not wake a condition variable). SIGHUP is taken too, and only
// said: its default ended the detector where it was (a terminal closed, a `kill -HUP` meant as a
// reload), the open segment lost in staging as for a SIGKILL (detector/app.py's hangup_notes).
void take_stop_signals() {
    static sigset_t taken;
    sigemptyset(&taken);
    sigaddset(&taken, SIGINT);
    sigaddset(&taken, SIGTERM);
    sigaddset(&taken, SIGHUP);
    sigaddset(&taken, SIGUSR1);  // a log rotation's or a reload's (logrotate's `kill -USR1`): said, ignored, as
    sigaddset(&taken, SIGUSR2);  // common/stop_signals.py's STRAY_SIGNALS (their default ended the detector)
    ::pthread_sigmask(SIG_BLOCK, &taken, nullptr);
    std::thread([] {
        ::pthread_setname_np(::pthread_self(), "qc-signals");
        int signal = 0;
        while (::sigwait(&taken, &signal) == 0) {
            if (signal == SIGUSR1 || signal == SIGUSR2) {
                qc::log::warning(std::string("detector: ") + (signal == SIGUSR1 ? "SIGUSR1" : "SIGUSR2") +
                                 " ignored (not a signal quickcam acts on: a log rotation's or a reload's?): the "
                                 "cameras are still watched. It reads its config at start only: restart it to apply "
                                 "a change; SIGTERM stops it");
                continue;
            }
            if (signal != SIGHUP) {
                g_stop.set();
                return;
            }
            qc::log::warning("detector: SIGHUP (its terminal closed, or a reload asked) ignored: the cameras are "
                             "still watched. The detector reads its config at start only: restart it to apply a "
                             "change");
        }
    }).detach();
}

// Waits (polling: only at the stop) until done() or the monotonic deadline; done() at the end.
template <typename Done>
bool wait_until(double deadline, Done done) {
    while (!done() && qc::monotonic_s() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return done();
}

// The cameras' part of the stop (detector/app.py's, in the same bounds): each capture thread gets
// kCaptureJoinS to end; one still in a read then is given up, its recorder told to stop without it,
// so its open segment is committed rather than lost with the process. Every camera's threads get
// kCameraJoinS in all (one deadline for all: eight stuck cameras must not take 80 s). False when a
// thread was left behind.
bool stop_cameras(std::vector<std::unique_ptr<qc::CameraPipeline>>& pipelines, double stopping_at) {
    wait_until(stopping_at + kCaptureJoinS, [&] {
        return std::all_of(pipelines.begin(), pipelines.end(), [](const auto& p) { return p->capture_ended(); });
    });
    for (auto& p : pipelines)
        if (!p->capture_ended()) p->give_up_capture(qc::monotonic_s() - stopping_at);
    wait_until(stopping_at + kCameraJoinS, [&] {
        return std::all_of(pipelines.begin(), pipelines.end(), [](const auto& p) { return p->settled(); });
    });
    wait_until(stopping_at + kRecorderJoinS, [&] {
        return std::all_of(pipelines.begin(), pipelines.end(), [](const auto& p) { return p->record_ended(); });
    });
    bool all = true;
    for (auto& p : pipelines) all = p->join_or_leave() && all;
    return all;
}

const char* kUsage =
    "usage: quickcam-native-detector [--config FILE] [--seconds N]\n"
    "       quickcam-native-detector [--config FILE] --print-config   (the settings it would run with, as JSON)\n"
    "       quickcam-native-detector --vectors DIR   (check the codec against the protocol vectors)\n"
    "       quickcam-native-detector --decode-cost FILE   (CPU ms to decode a frame of FILE, for bench/)\n"
    "       quickcam-native-detector --fit-status < cases.msgpack   (camera statuses fitted to the protocol, as JSON)\n"
    "       quickcam-native-detector [--config FILE] --motion-trace WxH [--fps N] [--every K] [--video-range]\n"
    "           (raw 8-bit gray frames on stdin through the motion core and the view guard, one verdict a line;\n"
    "            bench/native_parity.py, tests/test_native_view_guard.py)\n"
    "       quickcam-native-detector --stream-clock < calls.jsonl   (the stream clock's answers, one JSON line a call;\n"
    "            tests/test_native_stream_clock.py)\n";

std::map<std::string, std::string> environment() {
    std::map<std::string, std::string> env;
    for (char** e = environ; *e; ++e) {
        std::string entry(*e);
        auto eq = entry.find('=');
        if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
    }
    return env;
}

// The effective settings, named as in quickcam.toml: tests compare them with common/config.py's.
qc::Value config_value(const qc::Config& config) {
    using qc::Value;
    auto motion = [](const qc::MotionConfig& m) {
        return Value::map({{"algorithm", Value::text(m.algorithm)}, {"detection_width", Value::integer(m.detection_width)},
                           {"min_area_fraction", Value::real(m.min_area_fraction)},
                           {"pixel_threshold", Value::integer(m.pixel_threshold)},
                           {"learning_rate", Value::real(m.learning_rate)}, {"trigger_frames", Value::integer(m.trigger_frames)},
                           {"global_change_fraction", Value::real(m.global_change_fraction)},
                           {"relearn_s", Value::real(m.relearn_s)}, {"dark_threshold", Value::real(m.dark_threshold)},
                           {"dark_interval_s", m.dark_interval_s > 0 ? Value::real(m.dark_interval_s) : Value{}},
                           {"dark_pixel_threshold", m.dark_pixel_threshold ? Value::integer(m.dark_pixel_threshold) : Value{}},
                           {"idle_detect_fps", m.idle_detect_fps > 0 ? Value::real(m.idle_detect_fps) : Value{}}});
    };
    auto recording = [](const qc::RecordingConfig& r) {
        return Value::map({{"outbox_dir", Value::text(r.outbox_dir)}, {"pre_roll_s", Value::real(r.pre_roll_s)},
                           {"post_roll_s", Value::real(r.post_roll_s)}, {"min_event_s", Value::real(r.min_event_s)},
                           {"segment_s", Value::real(r.segment_s)}, {"max_event_s", Value::real(r.max_event_s)},
                           {"buffer_max_s", Value::real(r.buffer_max_s)}, {"encoder", Value::text(r.encoder)},
                           {"snapshot_quality", Value::integer(r.snapshot_quality)},
                           {"keep_local_copy", Value::boolean(r.keep_local_copy)},
                           {"over_budget_fps", Value::real(r.over_budget_fps)}});
    };
    Value cameras = Value::array();
    for (const auto& c : config.cameras)
        cameras.a.push_back(Value::map({
            {"id", Value::text(c.id)}, {"source", Value::text(c.source)}, {"index", Value::integer(c.index)},
            {"path", Value::text(qc::redacted(c.path))}, {"detect_path", Value::text(qc::redacted(c.detect_path))},
            {"record", Value::text(c.record)}, {"max_gop_s", Value::real(c.max_gop_s)},
            {"fast_decode", Value::boolean(c.fast_decode)},
            {"idle_keyframes_only", Value::boolean(c.idle_keyframes_only)},
            {"event_keyframes_only", Value::boolean(c.event_keyframes_only)},
            {"width", Value::integer(c.width)}, {"height", Value::integer(c.height)},
            {"fps", Value::real(c.fps)}, {"loop", Value::boolean(c.loop)}, {"realtime", Value::boolean(c.realtime)},
            {"demo_start_s", Value::real(c.demo_start_s)},
            {"demo_gap_s", Value::real(c.demo_gap_s)},
            {"mjpg", Value::boolean(c.mjpg)}, {"input_format", Value::text(c.input_format)},
            {"reopen_max_s", Value::real(c.reopen_max_s)}, {"damaged_clear_s", Value::integer(c.damaged_clear_s)},
            {"stream_timeout_s", Value::integer(c.stream_timeout_s)},
            {"motion", motion(c.motion)}, {"recording", recording(c.recording)}}));
    const auto& l = config.link;
    auto optional = [](const std::string& s) { return s.empty() ? Value{} : Value::text(s); };
    return Value::map({
        {"cameras", cameras}, {"recording", recording(config.recording)},
        {"link", Value::map({{"endpoint", Value::text(l.endpoint)}, {"ack_timeout_s", Value::real(l.ack_timeout_s)},
                             {"heartbeat_s", Value::real(l.heartbeat_s)},
                             {"reconnect_max_s", Value::real(l.reconnect_max_s)}, {"allow_plain_tcp", Value::boolean(l.allow_plain_tcp)},
                             {"handshake_timeout_s", Value::real(l.handshake_timeout_s)},
                             {"unsent_after_s", Value::real(l.unsent_after_s)},
                             {"curve_secret_key_file", optional(l.curve_secret_key_file)},
                             {"curve_server_public_key_file", optional(l.curve_server_public_key_file)}})},
        {"logging", Value::map({{"level", Value::text(config.log_level)}})},
    });
}

int run(const qc::Config& config, double seconds) {
    using namespace qc;
    cv::setNumThreads(1);  // idle OpenCV worker threads spin and burn a core
    ensure_open_files();
    take_stop_signals();
    std::signal(SIGPIPE, SIG_IGN);
    CurveKeys curve = load_curve_keys(config.link);  // ConfigError at start-up, not later
    check_plain_tcp(config.link, !curve.secret_key.empty());
    private_folder(config.link.endpoint);  // the detector may start first: it makes the folder
    for (const auto& note : config.notes) log::warning("config: ", note);

    Outbox outbox(config.recording.outbox_dir, lock_outbox(config.recording.outbox_dir));  // held until the end
    std::vector<std::unique_ptr<CameraPipeline>> pipelines;
    std::vector<std::string> ids;
    for (const auto& cam : config.cameras) {
        pipelines.push_back(std::make_unique<CameraPipeline>(cam, outbox, g_stop));
        ids.push_back(cam.id);
    }
    auto camera_status = [&] {
        Value cams = Value::map();
        for (auto& p : pipelines) cams[p->id()] = p->status_value();
        return cams;
    };
    std::string keep = config.recording.keep_local_copy ? config.recording.outbox_dir + "/sent" : "";
    UploaderLink link(config.link, curve, outbox, ids, camera_status, keep);
    NotOkClock not_ok;
    DownClock down(monotonic_s());
    const std::string boot = boot_id();
    auto collect = [&](bool running) {
        LinkStatus ls = link.status();
        auto [items, bytes] = outbox.depth();
        double now = wall_s(), monotonic = monotonic_s();
        Value cameras = camera_status();
        not_ok.stamp(cameras, now, monotonic);
        return Value::map({
            // `time` for people, `monotonic` and `boot` for ages (common/health.py's written_stamp)
            {"time", Value::real(now)}, {"monotonic", Value::real(monotonic)}, {"boot", Value::text(boot)},
            {"pid", Value::integer(::getpid())}, {"running", Value::boolean(running)},
            {"interval_s", Value::real(kStatusIntervalS)},  // stale after a few intervals (health check)
            {"clock_ahead_s", Value::real(clock_ahead_s())},  // footage times after the system clock stepped back
            {"detector", Value::text("quickcam-native-detector")},
            {"cameras", cameras},
            {"outbox", Value::map({{"items", Value::integer(items)}, {"bytes", Value::integer(bytes)},
                                   {"refused", Value::integer(ls.refused + outbox.set_aside())}, {"over_budget", Value::text("")},
                                   {"deleted", Value::integer(outbox.deleted())},  // deleted under us (ensure_folders)
                                   {"oldest_s", Value::real(outbox.oldest_s(now))}})},  // footage waiting: health check
            {"link", Value::map({{"endpoint", Value::text(config.link.endpoint)}, {"connected", Value::boolean(ls.connected)},
                                 {"acked", Value::integer(ls.acked)}, {"retransmits", Value::integer(ls.retransmits)},
                                 {"malformed", Value::integer(ls.malformed)}, {"bad_status", Value::integer(ls.bad_status)},
                                 {"unreadable", Value::integer(ls.unreadable)},
                                 {"too_large", Value::integer(ls.too_large)},
                                 {"too_large_now", Value::integer(ls.too_large_now)},  // `N HELD NOW`
                                 {"hello_refused", Value::integer(ls.hello_refused)},
                                 {"rejected", Value::integer(ls.rejected)},
                                 {"in_flight", Value::integer(ls.in_flight)}, {"last_error", Value::text(ls.last_error)},
                                 {"last_error_at", Value::real(ls.last_error_at)},
                                 {"error_cleared_at", Value::real(ls.error_cleared_at)},
                                 {"down_for_s", Value::real(down.down_for_s(ls.connected, monotonic))},
                                 {"unsent_after_s", Value::real(config.link.unsent_after_s)}})},
        });
    };
    const std::string status_path = config.recording.outbox_dir + "/detector-status.json";
    bool status_failing = false;
    int64_t status_write_failures = 0;  // in the file once a write gets through (common/status_writes.py)
    auto write = [&](bool running) -> bool {  // true if the status was written
        try {
            outbox.ensure_folders();  // a deleted outbox is noticed (and made again) within one interval
        } catch (const std::exception&) {
            // cannot make it: the write below fails and says so
        }
        StatusWrite written;
        try {
            Value status = collect(running);
            status["status_write_failures"] = Value::integer(status_write_failures);
            written = write_status(status_path, status);
        } catch (const std::exception& e) {  // a bug in collecting must not end the status thread (terminate)
            written.error = e.what();
        }
        // Counted, and said once a streak, in common/status_writes.py's words.
        if (!written.ok && !status_failing)
            log::warning("status: cannot write ", status_path, " (", written.error,
                         "); quickcam status will show this detector as stale until it can");
        if (!written.ok) ++status_write_failures;
        for (const auto& moved_to : written.moved_to)
            log::error("status: a directory stood where the status file ", status_path, " belongs; moved it to ",
                       moved_to, " (its files kept) and wrote the status again");
        if (written.ok && status_failing)
            log::info("status: writing ", status_path, " again (", status_write_failures, " write(s) failed so far)");
        status_failing = !written.ok;
        return written.ok;
    };

    log::info("detector: watching ", pipelines.size(), " camera(s); outbox ", config.recording.outbox_dir);
    link.start();
    for (auto& p : pipelines) p->start();
    // The status file is written by a thread of its own, every interval and once more at the end of the stop
    // (running: false), as detector/status_file.py's: a write stuck on a disk that stopped answering (a hard NFS
    // mount, a USB disk in a reset) holds that thread, never the main loop or the stop (which gives it
    // kStatusCloseS). Written by the main loop, one such write kept the process from ever exiting.
    qc::Stop status_stop;  // set after the link's stop, so that the last status is the drained outbox's
    std::atomic<bool> status_ended{false};
    // A camera's change of state (opened, lost, an event started or ended, a fault) is written at once, looked for
    // every kChangePollS between two writes (detector/status_file.py's _wait_for_change).
    auto changes = [&] {
        std::string all = link.status().connected ? "1" : "0";
        for (auto& p : pipelines) all += '\n' + p->changes();
        return all;
    };
    std::thread status_thread([&] {
        ::pthread_setname_np(::pthread_self(), "qc-status");
        double mend_pause_s = 0.0;  // after a failed write: kChangePollS, doubling up to the interval
        while (!status_stop) {
            std::string before = changes();
            const bool wrote = write(true);
            // changed while writing: watched from the state after it, written again within a poll
            std::string seen = changes();
            const double now = monotonic_s();
            const double until = now + (seen == before ? kStatusIntervalS : kChangePollS);
            // A deleted outbox is made and locked again within a poll whenever it went, even during the write
            // (status_file.py's _run): a failed write (the outbox deleted under it, or one that cannot be made)
            // is tried again after a pause doubling up to the interval, not four times a second.
            mend_pause_s = wrote ? 0.0 : std::min(std::max(mend_pause_s * 2, kChangePollS), kStatusIntervalS);
            const double mend_from = now + mend_pause_s;
            while (!status_stop.wait_for(std::min(kChangePollS, std::max(0.0, until - monotonic_s())))) {
                const double t = monotonic_s();
                if (t >= until || changes() != seen || (t >= mend_from && !outbox.intact())) break;
            }
        }
        write(false);
        status_ended = true;
    });
    struct JoinOnThrow {  // an exception out of the stop below must not destroy a joinable thread (terminate)
        std::thread& thread;
        qc::Stop& stop;
        ~JoinOnThrow() {
            if (!thread.joinable()) return;
            stop.set();
            thread.join();
        }
    } join_on_throw{status_thread, status_stop};
    // Wakes at --seconds, at a stop and when a camera's threads end (they poke g_stop), and not otherwise.
    auto all_done = [&] {
        return std::all_of(pipelines.begin(), pipelines.end(), [](const auto& p) { return p->finished(); });
    };
    const double end = seconds > 0 ? monotonic_s() + seconds : 0;
    while (!g_stop) {
        if (end && monotonic_s() >= end) {
            log::info("detector: --seconds elapsed; stopping");
            break;
        }
        if (all_done()) {
            log::info("detector: every source has ended; stopping");
            break;
        }
        g_stop.wait_for(end ? end - monotonic_s() : 3600.0, all_done);
    }
    g_stop.set();
    log::info("detector: stopping; closing open segments");
    const double stopping_at = monotonic_s();
    bool left_behind = !stop_cameras(pipelines, stopping_at);
    double spent_s = monotonic_s() - stopping_at;  // the drain gets what the cameras left of its share
    double drain_s = std::max(0.0, std::min(std::max(kShutdownDrainMinS, config.link.ack_timeout_s),
                                            kShutdownDrainMaxS - spent_s));
    left_behind = !link.stop(drain_s, kLinkCloseS) || left_behind;
    status_stop.set();
    if (wait_until(monotonic_s() + kStatusCloseS, [&] { return status_ended.load(); })) {
        status_thread.join();
    } else {
        status_thread.detach();
        left_behind = true;
        log::error("status: the write of ", status_path, " has not returned ", kStatusCloseS,
                   " s after the stop (a disk that stopped answering?); stopping without the last status (running: "
                   "false): quickcam status shows this detector as stale");
    }
    auto [items, bytes] = outbox.depth();
    int64_t lost = 0;
    for (auto& p : pipelines) lost += p->lost_at_stop();
    int64_t staged = 0;
    for (auto& p : pipelines) staged += p->staged_at_exit();
    // The run's losses said again (app.py's _say_outbox_left): "all footage handed" after a recording that failed
    // (a disk that refused segments, the folder deleted under it: FINDINGS #55) said nothing was missing.
    int64_t not_recorded = 0, dropped = -lost;  // the snapshots lost at the stop are said on a line of their own
    for (auto& p : pipelines) {
        not_recorded += p->not_recorded();
        dropped += p->snapshots_dropped();
    }
    std::string notes;
    if (not_recorded > 0)
        notes += "; " + std::to_string(not_recorded) +
                 " frame(s) of this run were not recorded (see above; not_recorded in quickcam status)";
    if (dropped > 0)
        notes += "; " + std::to_string(dropped) +
                 " snapshot(s) of this run were dropped (see above; snapshots_replaced in quickcam status)";
    if (staged)
        notes += "; " + std::to_string(staged) + " segment(s) whose commit the stop cut short stay in " +
                 outbox.root() + "/.staging and are committed on next start";
    if (items)
        log::warning("detector: ", items, " item(s), ", bytes, " bytes not yet acknowledged; they stay in ",
                     outbox.root(), " and are sent on next start", notes);
    else if (!notes.empty())
        log::warning("detector: outbox empty; the footage recorded is handed to the uploader", notes);
    else if (!lost)
        log::info("detector: outbox empty; all footage handed to the uploader");
    if (lost)
        log::error("detector: ", lost, " snapshot(s) held in memory were lost at the stop: the disk refused them to "
                   "the end (counted in quickcam status as dropped)");
    int blind = 0;
    for (auto& p : pipelines) {
        CameraStats s = p->stats();
        if (s.opened) continue;
        ++blind;
        log::error("detector: camera ", p->id(), " never delivered a frame (", p->never_delivered(), ")");
    }
    int abandoned = 0;
    for (auto& p : pipelines) {
        CameraStats s = p->stats();
        if (!s.abandoned) continue;
        ++abandoned;
        log::error("detector: camera ", p->id(), " did not analyse its file to the end (", s.open_error, ")");
    }
    int code = blind || abandoned ? kExitNoFrame : 0;
    if (left_behind) {
        // A thread left behind still uses its camera or link: destroying them (returning from here) would join
        // it for ever or pull its objects from under it. Everything it could have kept is written or said above.
        log::warning("detector: ending with a thread left behind (see above); exit code ", code);
        log::flush(2.0);  // the lines queued for stderr (logging.cpp), within a bound: its reader may be gone
        std::fflush(nullptr);
        ::_exit(code);
    }
    return code;
}

}  // namespace

// Descriptors 0-2 the process was started without (`>&- 2>&-`) opened on /dev/null before any file is:
// a closed one went to the next file opened (the outbox's lock took 1, a ZeroMQ eventfd 2, and the log
// lines were written into it). common/std_streams.py does the same for the Python processes.
static void open_missing_std_streams() {
    for (int fd = 0; fd <= 2; ++fd) {
        if (::fcntl(fd, F_GETFD) != -1) continue;
        int spare = ::open("/dev/null", O_RDWR);
        if (spare >= 0 && spare != fd) {
            ::dup2(spare, fd);
            ::close(spare);
        }
    }
}

int main(int argc, char** argv) {
    open_missing_std_streams();
    std::string config_path, vectors;
    bool print_config = false, fit_status = false, stream_clock = false;
    std::string decode_file, trace_size;
    double seconds = 0, trace_fps = 15.0;
    int trace_every = 1;  // --motion-trace: source frames between two traced frames (1: every frame looked at)
    bool video_range = false;
    for (int k = 1; k < argc; ++k) {
        std::string arg = argv[k];
        auto value = [&]() -> std::string {
            if (k + 1 >= argc) { std::cerr << "quickcam-native-detector: " << arg << " needs a value\n" << kUsage; std::exit(2); }
            return argv[++k];
        };
        if (arg == "--config") config_path = value();
        else if (arg == "--seconds") {
            std::string text = value();
            try { seconds = std::stod(text); } catch (const std::exception&) { seconds = -1; }
            if (seconds <= 0) { std::cerr << "quickcam-native-detector: --seconds needs a positive number, got " << text << "\n"; return 2; }
        } else if (arg == "--vectors") vectors = value();
        else if (arg == "--print-config") print_config = true;
        else if (arg == "--fit-status") fit_status = true;
        else if (arg == "--stream-clock") stream_clock = true;
        else if (arg == "--decode-cost") decode_file = value();
        else if (arg == "--motion-trace") trace_size = value();
        else if (arg == "--video-range") video_range = true;
        else if (arg == "--every") {  // each traced frame is a look K source frames after the last (sparse looks)
            std::string text = value();
            try { trace_every = std::stoi(text); } catch (const std::exception&) { trace_every = -1; }
            if (trace_every < 1) { std::cerr << "quickcam-native-detector: --every needs a whole number >= 1, got " << text << "\n"; return 2; }
        }
        else if (arg == "--fps") {
            std::string text = value();
            try { trace_fps = std::stod(text); } catch (const std::exception&) { trace_fps = -1; }
            if (trace_fps <= 0) { std::cerr << "quickcam-native-detector: --fps needs a positive number, got " << text << "\n"; return 2; }
        }
        else if (arg == "--version") { std::cout << "quickcam-native-detector 0.1.0 (protocol 1.0)\n"; return 0; }
        else if (arg == "-h" || arg == "--help") { std::cout << kUsage; return 0; }
        else if (arg == "detector") continue;  // `... detector --config x` as with the quickcam command
        else { std::cerr << "quickcam-native-detector: unknown option " << arg << "\n" << kUsage; return 2; }
    }
    if (!vectors.empty()) return qc::run_vectors(vectors);
    if (stream_clock) return qc::run_stream_clock_trace(std::cin, std::cout);  // the stream clock alone, for tests
    if (fit_status) {  // the status fitting alone, for tests (status_header.hpp)
        std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
        try {
            std::cout << qc::fit_statuses_json(input) << "\n";
        } catch (const std::exception& e) {
            std::cerr << "quickcam-native-detector: --fit-status: " << e.what() << "\n";
            return 2;
        }
        return 0;
    }
    if (!decode_file.empty()) {  // what decoding alone costs, as the detector decodes a file (av_source.cpp)
        cv::setNumThreads(1);
        qc::CameraConfig camera;
        camera.source = "file", camera.path = decode_file, camera.loop = false, camera.realtime = false;
        qc::AvSource source(camera);
        qc::Frame frame;
        long frames = 0;
        std::clock_t started = std::clock();  // CPU time of every thread of the process
        if (source.open())
            while (source.read(frame)) ++frames;
        double ms = 1000.0 * double(std::clock() - started) / CLOCKS_PER_SEC / double(std::max(1L, frames));
        std::cout << "decode_ms_per_frame " << ms << " frames " << frames << "\n";
        return frames ? 0 : 1;
    }
    // Two malloc arenas are enough for a handful of threads (glibc makes up to 8 per core,
    // each holding freed frames). Frames stay on the heap (glibc's dynamic mmap threshold):
    // an mmap per frame would page-fault every byte of every frame, a third of the CPU.
    mallopt(M_ARENA_MAX, 2);
    // Private files: outbox clips are plaintext, and the status file names cameras and times.
    // Whatever the caller's umask, every folder made is 0700 and every file 0600 (common/private.py).
    ::umask(077);
    // Quiet libraries: OpenCV's own warnings would leak into the log; the detector reports what matters.
    // OpenCV read OPENCV_LOG_LEVEL when it loaded, before main: its level is set as well (a USB camera
    // that does not open printed five `[ WARN:0@0.3] global cap_v4l.cpp …` lines an attempt).
    if (!std::getenv("OPENCV_LOG_LEVEL")) cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR);
    qc::route_ffmpeg_log();  // before any camera or encoder opens
    setenv("OPENCV_LOG_LEVEL", "ERROR", 0);
    setenv("OPENCV_FFMPEG_LOGLEVEL", "-8", 0);
    try {
        qc::Config config = qc::load_config(config_path, environment());
        qc::log::set_level(config.log_level);
        if (!trace_size.empty()) {
            cv::setNumThreads(1);
            for (const auto& note : config.notes) qc::log::warning("config: ", note);
            qc::CameraConfig camera = config.cameras.empty() ? qc::CameraConfig{} : config.cameras.front();
            return qc::run_motion_trace(camera.motion, camera.zones, trace_size, trace_fps, video_range, trace_every);
        }
        if (print_config) {
            for (const auto& note : config.notes) qc::log::warning("config: ", note);
            std::cout << qc::to_json(config_value(config)) << "\n";
            return 0;
        }
        return run(config, seconds);
    } catch (const qc::ConfigError& e) {
        qc::log::flush(2.0);  // the log's lines before it (written by their own thread), as they came
        std::cerr << "quickcam-native-detector: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        qc::log::flush(2.0);
        std::cerr << "quickcam-native-detector: " << e.what() << "\n";
        return 1;
    }
}
