#include "damaged_packets.hpp"

#include <ctime>

#include "logging.hpp"

namespace qc {

namespace {
std::string local_hms() {
    std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char text[16] = {};
    std::strftime(text, sizeof text, "%H:%M:%S", &local);
    return text;
}
}  // namespace

void DamagedPackets::damaged(const char* what) {
    if (!keyed_) return;
    ++count_;
    if (++streak_ > 1) return;
    since_ = local_hms();
    log::warning("camera ", camera_id_, ": a ", what, " did not decode cleanly at ", since_,
                 " (a damaged stream: detection is blind until the next keyframe, recording keeps the packets; "
                 "check the camera's bitrate and the network to it)");
}

void DamagedPackets::decoded(bool keyframe) {
    if (!keyframe) return;
    keyed_ = true;
    if (!streak_) return;
    log::info("camera ", camera_id_, ": decoding works again from a keyframe; ", streak_,
              " packet(s) did not decode since ", since_, " (", count_.load(), " since start)");
    streak_ = 0;
}

}  // namespace qc
