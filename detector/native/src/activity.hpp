// Busy places (leaves, a curtain, water): a port of detector/motion/activity.py (same constants;
// its docstrings are the spec). BusyMap keeps, per pixel, how often it flipped lately and raises
// the threshold there; Persistence makes a busy blob count only if it continues the last frame's
// (and a blob that only adds light, a raindrop, in a quiet place too).
#pragma once

#include <opencv2/core.hpp>
#include <vector>

namespace qc {

constexpr double kBusyS = 20.0;        // BUSY_S
constexpr double kBusyFloor = 0.02;    // BUSY_FLOOR
constexpr double kBusyFull = 0.15;     // BUSY_FULL
constexpr double kBusyGain = 2.5;      // BUSY_GAIN
constexpr double kPersistScore = 0.01; // PERSIST_SCORE
constexpr double kCloseLooksS = 0.15;  // CLOSE_LOOKS_S

class BusyMap {
public:
    explicit BusyMap(double fps);
    // How busy the place under `box` was before this frame: its raise, 0..1.
    double score(const cv::Rect& box) const;
    // How busy the region around `box` (grown by `grow` on each side, cut at the edge) was before
    // this frame: flips per frame, each pixel capped at `cap` (activity.py's BusyMap.around).
    double around(const cv::Rect& box, int grow, double cap) const;
    // Learn this frame's flips; clear in `mask` what a busy place's raised threshold does not pass.
    void gate(const cv::Mat& normal, const cv::Mat& reference, double threshold, cv::Mat& mask, bool learn);

private:
    double rate_;
    cv::Mat busy_, before_, before_busy_;  // CV_32F flips per frame; CV_8U last changed; CV_32F
    long seen_ = 0;
    cv::Mat diff_, changed_, flips_, raise_, low_, high_, excess_, reach_;
};

class Persistence {
public:
    void forget() { before_.clear(), moved_ = false; }
    // Per box (detection-size pixels): does it count as motion now? Then remembers `boxes`.
    // stirred: other changes of this frame were taken for light (a gust turning leaves all over
    // a tree); then a busy blob never counts on its first frame, only once the next overlaps it.
    // held (optional, one per box): a change watched for stillness (shading.hpp's StillShading): it
    // does not count now, nor makes this frame one "with motion"; it is remembered all the same.
    // bright (optional, one per box): all its change adds light (glints::adds_light: a raindrop, a
    // flake); after a frame with motion such a blob must overlap it in a quiet place too.
    std::vector<bool> counts(const std::vector<cv::Rect>& boxes, const BusyMap& busy, bool stirred = false,
                             const std::vector<bool>* held = nullptr, const std::vector<bool>* bright = nullptr);

private:
    std::vector<cv::Rect> before_;
    bool moved_ = false;
};

}  // namespace qc
