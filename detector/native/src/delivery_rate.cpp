#include "delivery_rate.hpp"

#include <cmath>
#include <cstdio>

namespace qc {

void DeliveryRate::delivered(double now) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (arrivals_.empty() || now - arrivals_.back() > kWindowS) {
        arrivals_.clear();
        since_ = now, slow_since_ = -1;
    }
    arrivals_.push_back(now);
}

std::string DeliveryRate::fault(double declared_fps, bool judged, double now) {
    std::lock_guard<std::mutex> lock(mutex_);
    while (!arrivals_.empty() && now - arrivals_.front() > kWindowS) arrivals_.pop_front();
    if (!judged || declared_fps <= 0 || arrivals_.empty() || now - since_ < kWindowS) {
        slow_since_ = -1;
        return "";
    }
    double rate = double(arrivals_.size()) / kWindowS;
    if (rate >= kSlowShare * declared_fps) {
        slow_since_ = -1;
        return "";
    }
    if (slow_since_ < 0) slow_since_ = now;
    double slow_s = now - slow_since_;
    if (slow_s < kSlowAfterS) return "";
    char text[96];
    std::snprintf(text, sizeof text, "delivering %.1f of its %.1f fps for %.0f s", rate, declared_fps, slow_s);
    return std::string(text) + " (the camera, its network or this machine does not keep up: check the camera's "
                               "bitrate and the machine's load)";
}

}  // namespace qc
