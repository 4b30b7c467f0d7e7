// Sleeps so frames come out at fps in real time, without drift (a file played as a camera). The sleep ends
// at the detector's stop: at fps = 0.1 a 10 s sleep outlasted the capture's 2 s at the stop, which then gave it
// up as "stuck in a read" (the wrong cause; detector/sources.py's _Pacer the same).
#pragma once

#include <chrono>
#include <cstdint>
#include <thread>

#include "stop.hpp"

namespace qc {

class Pacer {
public:
    explicit Pacer(double fps, const Stop* stop = nullptr)
        : period_(std::chrono::nanoseconds(int64_t(1e9 / fps))), next_(clock::now()), stop_(stop) {}
    void wait() {
        auto now = clock::now();
        if (next_ > now && stop_) stop_->wait_for(std::chrono::duration<double>(next_ - now).count());
        else if (next_ > now) std::this_thread::sleep_until(next_);
        else if (now - next_ > 5 * period_) next_ = now;  // fell far behind: don't burst
        next_ += period_;
    }

private:
    using clock = std::chrono::steady_clock;
    clock::duration period_;
    clock::time_point next_;
    const Stop* stop_;
};

}  // namespace qc
