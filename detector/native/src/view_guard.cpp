#include "view_guard.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <opencv2/imgproc.hpp>

namespace qc {

namespace {
// view_guard.py's constants, same names.
const cv::Size kGrid(64, 48);              // GRID: width, height the guard looks at
constexpr int64_t kLookEveryNs = 250000000;  // LOOK_EVERY_NS: four looks a second
constexpr double kBrightOffset = 8.0;      // BRIGHT_OFFSET
constexpr double kFlat = 0.012;            // FLAT
constexpr double kBlockedShare = 0.3;      // BLOCKED_SHARE
constexpr double kBlockedS = 4.0;          // BLOCKED_S
constexpr double kMovedMatch = 0.35;       // MOVED_MATCH
constexpr int kTile = 8;                   // TILE
constexpr double kMovedS = 8.0;            // MOVED_S
constexpr double kMovedAcceptS = 600.0;    // MOVED_ACCEPT_S
constexpr double kFrozenDiff = 0.02;       // FROZEN_DIFF
constexpr double kFrozenS = 10.0;          // FROZEN_S
constexpr int64_t kFrozenKeyframes = 2;    // FROZEN_KEYFRAMES
constexpr double kClearS = 2.0;            // CLEAR_S
constexpr double kLearnS = 60.0;           // LEARN_S
constexpr double kWarmupS = 5.0;           // WARMUP_S

// The share of the learnt view's detail still lining up (1: the same edges everywhere, ~0.1: unrelated): each
// kTile x kTile tile's normalised correlation, its sign dropped, weighted by the view's detail (its L2 norm)
// there, so one region whose light alone changed (a dark doorway lit: FINDINGS #83) counts for its tiles only
// (view_guard.py's _match). Sum of |now . view| / |now| over sum of |view|, tile by tile, from the tiles' means.
double view_match(const cv::Mat& now, const cv::Mat& view) {
    const cv::Size tiles(now.cols / kTile, now.rows / kTile);  // INTER_AREA at a whole factor: each tile's mean
    auto tile_means = [&tiles](const cv::Mat& a, const cv::Mat& b) {
        cv::Mat product, means;
        cv::multiply(a, b, product);
        cv::resize(product, means, tiles, 0, 0, cv::INTER_AREA);
        return means;
    };
    const cv::Mat dot = tile_means(now, view), aa = tile_means(now, now), bb = tile_means(view, view);
    double lined_up = 0.0, weight = 0.0;
    for (int y = 0; y < tiles.height; ++y)
        for (int x = 0; x < tiles.width; ++x) {
            const double now_norm = std::sqrt(double(aa.at<float>(y, x)));
            if (now_norm > 1e-9) lined_up += std::abs(double(dot.at<float>(y, x))) / now_norm;
            weight += std::sqrt(double(bb.at<float>(y, x)));
        }
    return weight > 1e-9 ? lined_up / weight : 1.0;
}

std::string seconds(double s) {
    char text[32];
    std::snprintf(text, sizeof text, "%.0f", s);
    return text;
}
}  // namespace

double ViewGuard::Watch::hold(bool holding, int64_t time_ns) {
    if (!holding) {
        since_ns = 0;
        return 0.0;
    }
    if (!since_ns) since_ns = time_ns;
    return double(time_ns - since_ns) / 1e9;
}

ViewChange ViewGuard::look(const cv::Mat& gray, int64_t time_ns, int keyframe) {
    if (keyframe >= 0) keyframes_ = std::max<int64_t>(keyframes_, 0) + keyframe;
    if (time_ns < next_ns_ && time_ns >= last_ns_) return {};
    double elapsed_s = last_ns_ ? std::max(0.0, double(time_ns - last_ns_) / 1e9) : 0.0;  // (a clock that stepped back)
    next_ns_ = time_ns + kLookEveryNs, last_ns_ = time_ns;
    cv::resize(gray, small_, kGrid, 0, 0, cv::INTER_AREA);
    if (small_.type() != CV_32F) small_.convertTo(small_, CV_32F);
    double frozen_s = watch_frozen_look(small_, time_ns);
    double brightness = cv::mean(small_)[0];
    cv::Mat blurred;
    cv::blur(small_, blurred, cv::Size(5, 5));
    cv::subtract(small_, blurred, detail_);
    structure_ = cv::norm(detail_, cv::NORM_L1) / double(detail_.total()) / (brightness + kBrightOffset);
    if (!first_ns_) first_ns_ = time_ns;
    bool warm = double(time_ns - first_ns_) / 1e9 >= kWarmupS;
    if (view_.empty()) view_ = detail_.clone(), learnt_structure_ = structure_;
    match_ = view_match(detail_, view_);
    bool collapsed = structure_ < kFlat || structure_ < kBlockedShare * learnt_structure_;
    double blocked_s = blocked_.hold(collapsed, time_ns);
    double moved_s = moved_.hold(warm && !collapsed && match_ < kMovedMatch, time_ns);
    std::optional<ViewFault> fault = judge(blocked_s, moved_s, frozen_s);
    bool suspect = blocked_.since_ns || moved_.since_ns || frozen_.since_ns;
    double clear_s = clear_.hold(!suspect, time_ns);
    if (moved_s >= kMovedAcceptS) {  // re-aimed for good: this is the camera's view now
        view_ = detail_.clone(), learnt_structure_ = structure_;
        moved_.since_ns = 0;
    } else if (!fault && fault_ && clear_s < kClearS) {
        fault = fault_;  // a view hovering at a threshold is one episode, not one a second
    } else if (!fault && !suspect) {  // a clear view: learn it
        double rate = std::min(1.0, elapsed_s / (warm ? kLearnS : 1.0));
        cv::addWeighted(view_, 1.0 - rate, detail_, rate, 0.0, view_);
        learnt_structure_ += rate * (structure_ - learnt_structure_);
    }
    return change(std::move(fault));
}

double ViewGuard::watch_frozen_look(const cv::Mat& small, int64_t time_ns) {
    cv::Mat previous = previous_;
    previous_ = small.clone();
    if (!watch_frozen_ || previous.empty()) return 0.0;
    bool same = cv::norm(small, previous, cv::NORM_L1) / double(small.total()) < kFrozenDiff;
    if (same && !frozen_.since_ns) keyframes_frozen_ = std::max<int64_t>(keyframes_, 0);
    double frozen_s = frozen_.hold(same, time_ns);
    if (keyframes_ < 0 || frozen_s >= 3 * kFrozenS) return frozen_s;
    return keyframes_ - keyframes_frozen_ >= kFrozenKeyframes ? frozen_s : 0.0;
}

std::optional<ViewFault> ViewGuard::judge(double blocked_s, double moved_s, double frozen_s) const {
    // The fault that holds now, the most telling first; a fault said goes on while its condition holds.
    // A frozen picture tells nothing of structure: said first, unless it has none. A covered lens (an unchanging
    // black picture: no noise to change) is blocked, not a stuck encoder to power-cycle (view_guard.py's _judge).
    if (frozen_s >= kFrozenS && !blocked_.since_ns)
        return ViewFault{"frozen", frozen_.since_ns,
                         "view frozen: the picture has not changed at all for " + seconds(frozen_s) +
                             " s while frames keep coming (the camera's encoder is stuck: restart or power-cycle the "
                             "camera)"};
    if (blocked_s >= kBlockedS)
        return ViewFault{"blocked", blocked_.since_ns,
                         "view blocked: the picture has no detail for " + seconds(blocked_s) +
                             " s (lens covered or sprayed, or no light at all: check the camera)"};
    if (kMovedAcceptS > moved_s && moved_s >= kMovedS)
        return ViewFault{"moved", moved_.since_ns,
                         "view moved: the picture has not matched the camera's usual view for " + seconds(moved_s) +
                             " s (turned away, or something large in front of it: check where it points)"};
    return std::nullopt;
}

ViewChange ViewGuard::change(std::optional<ViewFault> fault) {
    std::optional<ViewFault> before = std::move(fault_);
    fault_ = fault;
    if (before.has_value() == fault.has_value() && (!before || before->kind == fault->kind)) return {};
    if (fault) ++episodes_;
    return {std::move(fault), std::move(before)};
}

}  // namespace qc
