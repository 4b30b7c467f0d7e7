// Each camera thread's heartbeat and health (detector/pipeline/supervise.py's Loop), so that a
// thread stuck in a read that never returns (a stream that stops sending without closing, a
// driver or decoder that blocks) or in a write is said in the status instead of the camera
// staying "ok" while it sees nothing.
//
// The thread calls beat() every time it does something or wakes up idle; problem() calls the
// loop stalled when its last beat is older than its limit (3 frame intervals, at least 1 s:
// camera_pipeline.py's STALL_FRAMES, supervise.py's MIN_STALL_S), and not running when its
// thread ended on an error. Unlike the Python supervisor, nothing is restarted here: a stalled
// thread cannot be stopped safely from outside, and a thread that died ends the process
// (main.cpp, exit 4) for its service manager to restart (docs/native.md).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "value.hpp"

namespace qc {

class Loop {
public:
    static constexpr double kMinStallS = 1.0;  // a frame interval or three is below what a busy machine can promise
    static constexpr int kStallFrames = 3;     // a loop that has not beaten for this many frame intervals is stalled
    static double stall_s_for(double fps) { return std::max(kMinStallS, kStallFrames / std::max(1.0, fps)); }

    Loop(std::string name, double stall_s) : name_(std::move(name)), stall_s_(stall_s) {}
    const std::string& name() const { return name_; }

    void start() { beat(); running_ = true; }
    void beat() { beat_ns_.store(now_ns(), std::memory_order_relaxed); }
    // False while the loop is rightly quiet (opening a source, waiting to reopen it): the camera's state
    // (failing, lost) says what goes on meanwhile. Watched again from a fresh beat.
    void watch(bool watched) { if (watched) beat(); watched_ = watched; }
    void finish() { finished_ = true; running_ = false; }
    void fail(const std::string& error);  // the thread ended on an exception

    // "" when healthy (or finished on purpose); else what is wrong, in words (supervise.py's problem).
    std::string problem() const;
    // {running, finished, errors, last_error, beat_s_ago}: supervise.py's as_status.
    Value as_status() const;

    static int64_t now_ns();

private:
    std::string name_;
    double stall_s_;
    std::atomic<int64_t> beat_ns_{now_ns()};
    std::atomic<bool> running_{false}, finished_{false}, watched_{true};
    mutable std::mutex error_mutex_;
    int64_t errors_ = 0;
    std::string last_error_;
};

}  // namespace qc
