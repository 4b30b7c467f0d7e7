#include "clock.hpp"

#include <chrono>
#include <cmath>
#include <mutex>

#include "logging.hpp"

namespace qc {

namespace {

constexpr int64_t kStepNs = 1'000'000'000;  // the wall clock this far from ours is a step, not drift (NTP slews both)

int64_t wall_ns() {
    using namespace std::chrono;
    return duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count();
}

int64_t steady_ns() {
    using namespace std::chrono;
    return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
}

// One per process: every source's frames on one time line, across reopens (clock.py's _CLOCK).
class FootageClock {
public:
    FootageClock() : offset_ns_(wall_ns() - steady_ns()) {}

    int64_t now_ns() {
        std::lock_guard<std::mutex> lock(mutex_);
        int64_t monotonic = steady_ns(), wall = wall_ns();
        int64_t ours = monotonic + offset_ns_;
        int64_t ahead = ours - wall;
        if (-ahead > kStepNs) {
            log::warning("clock: the system clock stepped forward by ", std::llround(-ahead / 1e9),
                         " s; footage times follow it (an event running now ends, the next motion starts a new one)");
            offset_ns_ = wall - monotonic, ahead_ns_ = 0, ours = wall;
        } else if (ahead > ahead_ns_ + kStepNs) {
            log::error("clock: the system clock stepped back by ", std::llround((ahead - ahead_ns_) / 1e9),
                       " s; footage times keep counting from before the step (", std::llround(ahead / 1e9),
                       " s ahead of the system clock) so that segments, events and the pre-roll stay whole; "
                       "restart the detector to label footage by the clock again (check NTP)");
            ahead_ns_ = ahead;
        } else if (ahead < ahead_ns_ - kStepNs) {  // a smaller step forward took back part of it
            ahead_ns_ = ahead > 0 ? ahead : 0;
        }
        return ours;
    }

    double ahead_s() {
        std::lock_guard<std::mutex> lock(mutex_);
        return std::round(double(ahead_ns_) / 1e8) / 10;
    }

private:
    std::mutex mutex_;
    int64_t offset_ns_;
    int64_t ahead_ns_ = 0;
};

FootageClock& footage_clock() {
    static FootageClock clock;
    return clock;
}

}  // namespace

int64_t footage_ns() { return footage_clock().now_ns(); }

double clock_ahead_s() { return footage_clock().ahead_s(); }

double monotonic_s() { return double(steady_ns()) / 1e9; }

double wall_s() { return double(wall_ns()) / 1e9; }

}  // namespace qc
