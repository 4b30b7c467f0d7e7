// A slow second background: a port of detector/motion/slow_background.py (same constant; its
// docstrings are the spec). It learns kSlowRate of each frame; where a pixel is off it by more
// than the threshold (raised where the place is busy), the main background does not learn it, so
// a slow mover (a crawler) is not learnt before he makes a blob.
#pragma once

#include <opencv2/core.hpp>
#include <vector>

namespace qc {

constexpr double kSlowRate = 0.005;  // SLOW_RATE
constexpr int kHeldAfter = 2;        // HELD_AFTER: looks in a row a pixel must be off before it is held
constexpr double kHeldShare = 0.75;  // HELD_SHARE: held when off by this share of the threshold
constexpr double kHeldSlope = 0.33;  // HELD_SLOPE: a held blob is light if its ratio to the slow picture is this soft
constexpr double kHeldTexture = 0.75;  // HELD_TEXTURE: ... or its texture shows through this much

class SlowBackground {
public:
    // Start again from `frame` (the main background restarted).
    void reset(const cv::Mat& frame) { frame.copyTo(picture_), off_.release(), kept_.release(); }
    // The pixels off the slow picture by more than kHeldShare of `threshold`, raised where `busy` (activity.hpp) is, as
    // BusyMap::gate raises it, kHeldAfter looks in a row (CV_8U, 255: not learnt now); null when none.
    const cv::Mat* held(const cv::Mat& normal, double threshold, const cv::Mat& busy);
    // Fold `frame` in at `rate`, except `clipped` (may be null).
    void learn(const cv::Mat& frame, double rate, const cv::Mat* clipped);
    // The main background took `normal` at once except the boxes `keep`: so does this one.
    void absorb(const cv::Mat& normal, const std::vector<cv::Rect>& keep);
    const cv::Mat& picture() const { return picture_; }
    // Pixels held at some look since the picture was last reset or absorbed (CV_8U, 255); empty when none.
    const cv::Mat& kept() const { return kept_; }

private:
    cv::Mat picture_;  // CV_32F, at the detection size and the background's exposure
    cv::Mat off_;      // CV_8U per pixel, looks in a row off the picture (at most kHeldAfter)
    cv::Mat kept_;     // CV_8U held at some look since the last reset or absorb (slow_background.py's kept)
    cv::Mat held_, mask_;
};

}  // namespace qc
