// Each camera thread's loop, supervised (detector/pipeline/supervise.py's Loop and Supervisor):
// no exception ends a camera's stage for good, and each stage's health is known.
//
// The thread calls beat() every time it does something or wakes up idle; problem() calls the
// loop stalled when its last beat is older than its limit (3 frame intervals, at least 1 s:
// camera_pipeline.py's STALL_FRAMES, supervise.py's MIN_STALL_S). A loop that waits for work on a
// condition variable says so (Waiting): it wakes at once when work comes, so it is not stalled.
//
// supervise() runs the loop in its thread: an exception is counted, logged once with its cause
// (then one line every kRepeatLogS while it repeats), shown in status (the loop is "failing" for
// kRecentFailureS after each failure), and the loop is started again after a backoff that doubles
// from kBackoffFirstS up to kBackoffMaxS (back to the first after a healthy run of kHealthyRunS).
// A stalled thread is not restarted: it cannot be stopped safely from outside.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "stop.hpp"
#include "value.hpp"

namespace qc {

class Loop {
public:
    static constexpr double kMinStallS = 1.0;  // a frame interval or three is below what a busy machine can promise
    static constexpr int kStallFrames = 3;     // a loop that has not beaten for this many frame intervals is stalled
    static constexpr double kBackoffFirstS = 0.1, kBackoffMaxS = 5.0;
    static constexpr double kRecentFailureS = 10.0;  // a loop that failed this recently is failing, even restarted
    static constexpr double kHealthyRunS = 30.0;     // a failure after a run this long is a new fault: first backoff
    static constexpr double kRepeatLogS = 60.0;
    static double stall_s_for(double fps) { return std::max(kMinStallS, kStallFrames / std::max(1.0, fps)); }

    Loop(std::string name, double stall_s) : name_(std::move(name)), stall_s_(stall_s) {}
    const std::string& name() const { return name_; }

    void start() { beat(); running_ = true; }
    void beat() { beat_ns_.store(now_ns(), std::memory_order_relaxed); }
    // False while the loop is rightly quiet (opening a source, waiting to reopen it): the camera's state
    // (failing, lost) says what goes on meanwhile. Watched again from a fresh beat.
    void watch(bool watched) { if (watched) beat(); watched_ = watched; }
    // While it lives, the loop waits for work on a condition variable (woken at once when work comes):
    // neither stalled nor behind with its beat. Beats again when it ends.
    class Waiting {
    public:
        explicit Waiting(Loop& loop) : loop_(loop) { loop_.waiting_ = true; }
        ~Waiting() { loop_.beat(); loop_.waiting_ = false; }
        Waiting(const Waiting&) = delete;
        Waiting& operator=(const Waiting&) = delete;
    private:
        Loop& loop_;
    };

    // Runs `body` in this thread until it returns, restarting it after a backoff when it throws
    // (supervise.py's _supervise); `owner` ("camera cam0") names it in the log. The backoff ends
    // early at a stop, and the body runs once more to finish what it holds (it sees the stop).
    void supervise(const std::string& owner, const std::function<void()>& body, Stop& stop);

    // "" when healthy (or finished on purpose); else what is wrong, in words (supervise.py's problem).
    std::string problem() const;
    // The last failure's words and the count while the loop is failing (restarted within kRecentFailureS of a
    // failure: problem() says "failing"); nullopt otherwise (supervise.py's recently_failed).
    std::optional<std::pair<std::string, int64_t>> recent_failure() const;
    // {running, finished, errors, last_error, beat_s_ago}: supervise.py's as_status.
    Value as_status() const;

    static int64_t now_ns();

private:
    void failed(const std::string& owner, const std::string& error, double backoff_s);

    std::string name_;
    double stall_s_;
    std::atomic<int64_t> beat_ns_{now_ns()};
    std::atomic<bool> running_{false}, finished_{false}, watched_{true}, waiting_{false};
    mutable std::mutex error_mutex_;
    int64_t errors_ = 0;
    std::string last_error_;
    int64_t failed_ns_ = 0;  // the last failure (steady clock); 0: none
    std::map<std::string, int64_t> logged_ns_;  // each cause, when it was last logged
};

// "runtime_error: what it says": an exception as the Python side names one ("RuntimeError: ..."), on one
// line and bounded (error_text, as supervise.py's describe).
std::string describe(const std::exception& error);

}  // namespace qc
