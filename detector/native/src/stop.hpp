// The detector's stop, and the one place its threads wait for a deadline: a thread waiting on it
// wakes at once when the detector stops (or when poked: a camera's threads ended), and otherwise
// only when its deadline comes, not at a polling interval (docs/native.md, "Idle wake-ups").
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace qc {

class Stop {
public:
    explicit operator bool() const { return stopped_.load(); }
    void set() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stopped_ = true;
        }
        changed_.notify_all();
    }
    // Wake the waiters to look again at what they wait for (a camera's threads ended).
    void poke() {
        { std::lock_guard<std::mutex> lock(mutex_); }
        changed_.notify_all();
    }
    // Waits up to `seconds` or until stopped; true when stopped.
    bool wait_for(double seconds) const { return wait_for(seconds, [] { return false; }); }
    // Waits up to `seconds`, until stopped or until `ready()` (looked at when poked); true when either holds.
    template <typename Ready>
    bool wait_for(double seconds, Ready ready) const {
        std::unique_lock<std::mutex> lock(mutex_);
        return changed_.wait_for(lock, std::chrono::duration<double>(std::max(0.0, seconds)),
                                 [&] { return stopped_.load() || ready(); });
    }

private:
    std::atomic<bool> stopped_{false};
    mutable std::mutex mutex_;  // (mutable: a const Stop is waited on, as the sources hold it)
    mutable std::condition_variable changed_;
};

}  // namespace qc
