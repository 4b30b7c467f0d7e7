// Still shading: a port of detector/motion/shading.py (same constants; its docstrings are the spec).
// A busy place's smooth, faint change (lighting::faint_shading) that continues none of last frame's motion is held (not
// counted) while it is watched; if its box nests with the one held on the frame before for
// kShadingFrames frames in a row it is shading (blurred leaves swaying), learnt at once as light is.
#pragma once

#include <opencv2/core.hpp>
#include <vector>

#include "activity.hpp"

namespace qc {

constexpr int kShadingFrames = 3;   // SHADING_FRAMES
constexpr int kStillPx = 1;         // STILL_PX

enum class Shading { none, held, shading };

class StillShading {
public:
    void forget() { tracks_.clear(); }
    // Per box: held (not counted now), shading (learn it at once) or none (judged as any blob);
    // moving: the boxes counted on the frame before. Then remembers the held boxes.
    std::vector<Shading> judge(const std::vector<cv::Rect>& boxes, const std::vector<cv::Rect>& moving,
                               const BusyMap& busy, const cv::Mat& normal, const cv::Mat& reference,
                               const cv::Mat& changed_mask);

private:
    struct Track {
        cv::Rect box;
        int still;  // frames in a row it has been held and still (1 on its first)
    };
    std::vector<Track> tracks_;
};

}  // namespace qc
