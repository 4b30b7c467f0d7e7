#include "damaged_packets.hpp"

#include <ctime>

#include "logging.hpp"

namespace qc {

namespace {
std::string clock_text(int64_t time_ns) {
    std::time_t at = std::time_t(time_ns / 1'000'000'000);
    std::tm local{};
    localtime_r(&at, &local);
    char text[16] = {};
    std::strftime(text, sizeof text, "%H:%M:%S", &local);
    return text;
}
}  // namespace

void DamagedPackets::opened() {
    std::lock_guard<std::mutex> lock(mutex_);
    keyed_ = broken_ = false;
}

void DamagedPackets::damaged(int64_t time_ns, const char* what) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!keyed_) return;
    ++count_;
    last_ns_ = time_ns;
    broken_ = true;
    if (++streak_ > 1) return;
    first_ns_ = time_ns;
    streak_pictures_ = 0;
    log::warning("camera ", camera_id_, ": a ", what, " did not decode cleanly at ", clock_text(time_ns),
                 " (a damaged stream: detection is blind until the next keyframe, recording keeps the packets; "
                 "check the camera's bitrate and the network to it)");
}

void DamagedPackets::decoded(bool keyframe, int64_t time_ns) {
    if (!keyframe) return;
    std::lock_guard<std::mutex> lock(mutex_);
    keyed_ = true;
    broken_ = false;  // the pictures from here on are predicted from a whole one
    if (!streak_ || time_ns - last_ns_ < clear_ns_) return;
    log::info("camera ", camera_id_, ": no damaged packet for ", clear_s_, " s; ", streak_,
              " packet(s) did not decode cleanly from ", clock_text(first_ns_), " to ", clock_text(last_ns_), ", ",
              streak_pictures_, " picture(s) not analysed (", count_.load(), " packet(s), ", pictures_,
              " picture(s) since start)");
    streak_ = 0;
}

bool DamagedPackets::not_analysed(bool corrupt, int64_t time_ns) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!(corrupt || (broken_ && time_ns - last_ns_ < clear_ns_))) return false;
    ++pictures_;
    if (streak_) ++streak_pictures_;
    return true;
}

std::string DamagedPackets::fault() const {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!streak_) return "";
    return "damaged stream since " + clock_text(first_ns_) + ": " + std::to_string(streak_) +
           " packet(s) did not decode cleanly, " + std::to_string(streak_pictures_) +
           " picture(s) not analysed (recorded as they came)";
}

}  // namespace qc
