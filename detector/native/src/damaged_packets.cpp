#include "damaged_packets.hpp"

#include <ctime>

#include "logging.hpp"

namespace qc {

namespace {
constexpr int64_t kCleanNs = 10'000'000'000;  // damaged_packets.py's CLEAN_NS

std::string clock_text(int64_t time_ns) {
    std::time_t at = std::time_t(time_ns / 1'000'000'000);
    std::tm local{};
    localtime_r(&at, &local);
    char text[16] = {};
    std::strftime(text, sizeof text, "%H:%M:%S", &local);
    return text;
}
}  // namespace

void DamagedPackets::damaged(int64_t time_ns, const char* what) {
    if (!keyed_) return;
    ++count_;
    last_ns_ = time_ns;
    if (++streak_ > 1) return;
    first_ns_ = time_ns;
    log::warning("camera ", camera_id_, ": a ", what, " did not decode cleanly at ", clock_text(time_ns),
                 " (a damaged stream: detection is blind until the next keyframe, recording keeps the packets; "
                 "check the camera's bitrate and the network to it)");
}

void DamagedPackets::decoded(bool keyframe, int64_t time_ns) {
    if (!keyframe) return;
    keyed_ = true;
    if (!streak_ || time_ns - last_ns_ < kCleanNs) return;
    log::info("camera ", camera_id_, ": no damaged packet for ", kCleanNs / 1'000'000'000, " s; ", streak_,
              " packet(s) did not decode cleanly from ", clock_text(first_ns_), " to ", clock_text(last_ns_), " (",
              count_.load(), " since start)");
    streak_ = 0;
}

}  // namespace qc
