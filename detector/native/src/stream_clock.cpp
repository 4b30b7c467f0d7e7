#include "stream_clock.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "clock.hpp"
#include "logging.hpp"

namespace qc {

std::optional<int64_t> opened_anchor(const std::vector<std::pair<int64_t, int64_t>>& handed, int64_t opened_ns) {
    if (handed.empty()) return std::nullopt;
    int64_t least = handed.front().second - handed.front().first;
    for (const auto& [stream_ns, at_ns] : handed) least = std::min(least, at_ns - stream_ns);
    return std::max(opened_ns - handed.front().first, least);
}

bool OpenBurst::over(std::optional<int64_t> stream_ns, int64_t handed_ns) {
    if (!stream_ns) return false;
    int64_t late_ns = handed_ns - *stream_ns;
    if (least_ns_ && late_ns > *least_ns_ - frame_ns_ / 2)
        ++caught_up_;
    else if (least_ns_)
        caught_up_ = 0;
    least_ns_ = least_ns_ ? std::min(*least_ns_, late_ns) : late_ns;
    if (!first_ns_) first_ns_ = stream_ns;
    return caught_up_ >= kCaughtUpReads || *stream_ns - *first_ns_ >= opening_ns_;
}

void StreamClock::restart(std::optional<int64_t> anchor_ns, int64_t latest_ns) {
    anchor_ns_ = anchor_ns, arrived_ns_.reset();
    if (anchor_ns) floor_ns_ = std::max(floor_ns_, latest_ns);
}

int64_t StreamClock::wall_ns(int64_t stream_ns, int64_t latest_ns, int64_t frame_ns, bool arrived,
                             std::optional<int64_t> now_ns, bool held) {
    if (arrived || !anchor_ns_) {
        int64_t now = now_ns ? *now_ns : footage_ns();  // never steps back (clock.cpp)
        bool went_back = arrived && arrived_ns_ && stream_ns < *arrived_ns_;
        if (!anchor_ns_) {
            anchor_ns_ = now - stream_ns, floor_ns_ = latest_ns;
        } else if (int64_t ahead = *anchor_ns_ + stream_ns - now;
                   ahead > kDriftNs || (ahead < -kDriftNs && !held) || went_back) {
            // At most one line a minute, the ones between counted in the next (stream_clock.py's _say): garbage
            // read as packets re-anchored at every packet and flooded the log
            if (said_ns_ && now - *said_ns_ < kSayEveryNs) {
                ++unsaid_;
            } else {
                std::string more = unsaid_ ? " (" + std::to_string(unsaid_) + " more time(s) since the last line)" : "";
                if (went_back)
                    log::info("camera ", camera_id_, ": the stream's clock went back; re-anchored", more);
                else
                    log::info("camera ", camera_id_, ": the stream's clock is ",
                              std::round(std::llabs(ahead) / 1e8) / 10, " s ", ahead > 0 ? "ahead of" : "behind",
                              " the wall clock; re-anchored", more);
                said_ns_ = now, unsaid_ = 0;
            }
            anchor_ns_ = now - stream_ns, floor_ns_ = latest_ns;
        } else if (ahead > kAheadNs) {
            *anchor_ns_ -= std::min(ahead - kAheadNs, frame_ns / 2);
        }
        if (arrived) arrived_ns_ = stream_ns;
    }
    return std::max(*anchor_ns_ + stream_ns, floor_ns_ + 1);
}

}  // namespace qc
