#include "pre_roll.hpp"

namespace qc {

Frame recorded(const Frame& frame) {
    Frame kept = frame;
    if (kept.passthrough) kept.yuv.release();
    return kept;
}

void trim_pre_roll(std::deque<Frame>& pre_roll, int64_t keep_from_ns) {
    while (!pre_roll.empty() && pre_roll.front().time_ns < keep_from_ns) {
        if (!pre_roll.front().passthrough) {
            pre_roll.pop_front();
            continue;
        }
        size_t next = 1;  // the next place a segment can start
        while (next < pre_roll.size() && !pre_roll[next].starts_gop()) ++next;
        if (next == pre_roll.size() || pre_roll[next].time_ns > keep_from_ns) return;
        pre_roll.erase(pre_roll.begin(), pre_roll.begin() + long(next));
    }
}

size_t pre_roll_start(const std::deque<Frame>& pre_roll, int64_t from_ns) {
    size_t start = 0;
    for (size_t i = 0; i < pre_roll.size() && pre_roll[i].time_ns <= from_ns; ++i)
        if (pre_roll[i].starts_gop()) start = i;
    return start;
}

}  // namespace qc
