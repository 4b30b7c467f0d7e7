#include "supervise.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>

namespace qc {

int64_t Loop::now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

void Loop::fail(const std::string& error) {
    {
        std::lock_guard<std::mutex> lock(error_mutex_);
        ++errors_;
        last_error_ = error;
    }
    running_ = false;
}

std::string Loop::problem() const {
    if (finished_) return "";
    if (!running_) {  // ended on an error; or not started yet (the link may ask before the threads start)
        std::lock_guard<std::mutex> lock(error_mutex_);
        if (!errors_) return "";
        return name_ + " loop not running" + (last_error_.empty() ? "" : " (" + last_error_ + ")");
    }
    double age_s = double(now_ns() - beat_ns_.load(std::memory_order_relaxed)) / 1e9;
    if (!watched_ || age_s <= stall_s_) return "";
    char text[96];
    std::snprintf(text, sizeof text, " loop stalled for %.1f s", age_s);
    return name_ + text;
}

Value Loop::as_status() const {
    double age_s = double(now_ns() - beat_ns_.load(std::memory_order_relaxed)) / 1e9;
    std::lock_guard<std::mutex> lock(error_mutex_);
    return Value::map({{"running", Value::boolean(running_)}, {"finished", Value::boolean(finished_)},
                       {"errors", Value::integer(errors_)}, {"last_error", Value::text(last_error_)},
                       {"beat_s_ago", Value::real(std::round(age_s * 100) / 100)}});
}

}  // namespace qc
