// Light that only adds to a dark room, and the trail it leaves (a window's panes swept by headlights):
// a port of detector/motion/light_trail.py (same constants; that file's docstring is the spec).
#pragma once

#include <opencv2/core.hpp>

namespace qc {

constexpr double kLitUp = 1.5;        // LIT_UP
constexpr double kTrailS = 0.25;      // TRAIL_S
constexpr double kTrailShare = 0.9;   // TRAIL_SHARE
constexpr double kDarkRoom = 20.0;    // DARK_ROOM

class LightTrail {
public:
    explicit LightTrail(double fps);
    void reset();                 // a new background: nothing before it
    void tick(int frames) { age_ += frames; }
    // absorb is about to replace `reference`: keep the darkest of it and what came before this run
    void remember(const cv::Mat& reference, bool light_context);
    // the blob in `box` is light lighting up a dark room, or leaving it
    bool explains(const cv::Mat& normal, const cv::Mat& reference, const cv::Mat& changed_mask, const cv::Rect& box,
                  double threshold, bool light_context) const;

private:
    int frames_;
    cv::Mat before_;  // CV_32F background before the light, darkest of a run of absorbs
    int age_ = 0;     // frames since the last absorb
};

}  // namespace qc
