// Sleeps so frames come out at fps in real time, without drift (a file played as a camera).
#pragma once

#include <chrono>
#include <cstdint>
#include <thread>

namespace qc {

class Pacer {
public:
    explicit Pacer(double fps) : period_(std::chrono::nanoseconds(int64_t(1e9 / fps))), next_(clock::now()) {}
    void wait() {
        auto now = clock::now();
        if (next_ > now) std::this_thread::sleep_until(next_);
        else if (now - next_ > 5 * period_) next_ = now;  // fell far behind: don't burst
        next_ += period_;
    }

private:
    using clock = std::chrono::steady_clock;
    clock::duration period_;
    clock::time_point next_;
};

}  // namespace qc
