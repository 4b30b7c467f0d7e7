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

class SlowBackground {
public:
    // Start again from `frame` (the main background restarted).
    void reset(const cv::Mat& frame) { frame.copyTo(picture_), off_.release(); }
    // The pixels off the slow picture by more than `threshold`, raised where `busy` (activity.hpp) is, as
    // BusyMap::gate raises it, kHeldAfter looks in a row (CV_8U, 255: not learnt now); null when none.
    const cv::Mat* held(const cv::Mat& normal, double threshold, const cv::Mat& busy);
    // Fold `frame` in at `rate`, except `clipped` (may be null).
    void learn(const cv::Mat& frame, double rate, const cv::Mat* clipped);
    // The main background took `normal` at once except the boxes `keep`: so does this one.
    void absorb(const cv::Mat& normal, const std::vector<cv::Rect>& keep);

private:
    cv::Mat picture_;  // CV_32F, at the detection size and the background's exposure
    cv::Mat off_;      // CV_8U per pixel, looks in a row off the picture (at most kHeldAfter)
    cv::Mat held_, mask_;
};

}  // namespace qc
