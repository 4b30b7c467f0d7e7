#include "supervise.hpp"

#include <cxxabi.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <new>
#include <opencv2/core.hpp>
#include <typeinfo>

#include "error_text.hpp"
#include "logging.hpp"

namespace qc {

int64_t Loop::now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// Memory that runs out (an address-space or cgroup limit, a full machine: bench/outside/memory_squeeze.py) is said
// with the fix first, the library's detail after it: it read "Exception: OpenCV(4.6.0)
// ./modules/core/src/alloc.cpp:73: error: (-4:Insufficient memory) Failed to allocate 460800 bytes in function
// 'OutOfMemoryError'". The same words as supervise.py's OUT_OF_MEMORY.
constexpr const char* kOutOfMemory =
    "out of memory: give the detector more memory (its limit: docker's mem_limit, systemd's MemoryMax=, ulimit -v; "
    "or free some on this machine) or lower camera.width and camera.height";

std::string describe(const std::exception& error) {
    if (auto opencv = dynamic_cast<const cv::Exception*>(&error); opencv && opencv->code == cv::Error::StsNoMem)
        return error_text(std::string(kOutOfMemory) + " (" + opencv->err + ")");
    if (dynamic_cast<const std::bad_alloc*>(&error)) return error_text(std::string(kOutOfMemory) + " (std::bad_alloc)");
    int status = 0;
    std::unique_ptr<char, void (*)(void*)> name(abi::__cxa_demangle(typeid(error).name(), nullptr, nullptr, &status),
                                                std::free);
    std::string type = status == 0 && name ? name.get() : typeid(error).name();
    if (auto colons = type.rfind("::"); colons != std::string::npos) type = type.substr(colons + 2);
    return error_text(type + ": " + error.what());
}

void Loop::supervise(const std::string& owner, const std::function<void()>& body, Stop& stop) {
    double backoff = kBackoffFirstS;
    while (true) {
        int64_t started_ns = now_ns();
        try {
            body();
            finished_ = true;
            break;
        } catch (const std::exception& e) {  // a bug or a fault in one stage must not blind the camera
            if (double(now_ns() - started_ns) / 1e9 > kHealthyRunS) backoff = kBackoffFirstS;  // a new fault
            failed(owner, describe(e), backoff);
        }
        stop.wait_for(backoff);
        backoff = std::min(backoff * 2, kBackoffMaxS);
        beat();
    }
    running_ = false;
}

void Loop::failed(const std::string& owner, const std::string& error, double backoff_s) {
    int64_t errors, now = now_ns();
    {
        std::lock_guard<std::mutex> lock(error_mutex_);
        errors = ++errors_;
        last_error_ = error;
        failed_ns_ = now;
    }
    std::string cause = name_ + ":" + error;
    auto logged = logged_ns_.find(cause);
    char backoff[32];
    std::snprintf(backoff, sizeof backoff, "%.1f", backoff_s);
    if (logged == logged_ns_.end())
        log::error(owner, ": ", name_, " loop failed (", error, "); restarting it in ", backoff, " s (failure ", errors,
                   ")");
    else if (double(now - logged->second) / 1e9 >= kRepeatLogS)
        log::error(owner, ": ", name_, " loop still failing (", error, "); ", errors,
                   " failures so far; restarting it in ", backoff, " s");
    else
        return;
    logged_ns_[cause] = now;
}

std::string Loop::problem() const {
    if (finished_) return "";
    std::lock_guard<std::mutex> lock(error_mutex_);
    if (!running_) {  // ended; or not started yet (the link may ask before the threads start)
        if (!errors_) return "";
        return name_ + " loop not running" + (last_error_.empty() ? "" : " (" + last_error_ + ")");
    }
    int64_t now = now_ns();
    if (errors_ && double(now - failed_ns_) / 1e9 < kRecentFailureS)
        return name_ + " loop failing (" + last_error_ + "; " + std::to_string(errors_) + " failure(s) so far)";
    double age_s = double(now - beat_ns_.load(std::memory_order_relaxed)) / 1e9;
    if (!watched_ || waiting_ || age_s <= stall_s_) return "";
    char text[96];
    std::snprintf(text, sizeof text, " loop stalled for %.1f s", age_s);
    return name_ + text;
}

std::optional<std::pair<std::string, int64_t>> Loop::recent_failure() const {
    if (finished_ || !running_) return std::nullopt;
    std::lock_guard<std::mutex> lock(error_mutex_);
    if (!errors_ || double(now_ns() - failed_ns_) / 1e9 >= kRecentFailureS) return std::nullopt;
    return std::make_pair(last_error_, errors_);
}

Value Loop::as_status() const {
    // A loop waiting for work is as fresh as one that beats at each idle timeout (Python's, every 0.2 s).
    double age_s = waiting_ ? 0.0 : double(now_ns() - beat_ns_.load(std::memory_order_relaxed)) / 1e9;
    std::lock_guard<std::mutex> lock(error_mutex_);
    return Value::map({{"running", Value::boolean(running_)}, {"finished", Value::boolean(finished_)},
                       {"errors", Value::integer(errors_)}, {"last_error", Value::text(last_error_)},
                       {"beat_s_ago", Value::real(std::round(age_s * 100) / 100)}});
}

}  // namespace qc
