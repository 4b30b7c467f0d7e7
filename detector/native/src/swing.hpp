// A swinging edge's overshoot: a port of detector/motion/swing.py (same constants; its docstrings are the spec).
// In a very busy place (score >= kSwingScore), a faint change (departure under kSwingFaint) that continues none
// of last frame's motion and crept over the threshold (fresh_share under kSwingFresh: it was there on the frame
// before) is held (not counted) for kSwingHoldS at most in a row; its changed pixels are not learnt while held.
#pragma once

#include <opencv2/core.hpp>
#include <vector>

#include "activity.hpp"

namespace qc {

constexpr double kSwingScore = 0.3;   // SWING_SCORE
constexpr double kSwingFaint = 0.45;  // SWING_FAINT
constexpr double kSwingFresh = 0.4;   // SWING_FRESH
constexpr double kSwingHoldS = 1.0;   // SWING_HOLD_S

// swing.py's fresh_share: the share of the blob's departure from the background new since `previous`.
double fresh_share(const cv::Mat& normal, const cv::Mat& reference, const cv::Mat& previous,
                   const cv::Mat& changed_mask, const cv::Rect& box);

class SwingOvershoot {
public:
    explicit SwingOvershoot(double fps);
    void forget() { held_.clear(); }
    // Per box: held now? moving: the boxes counted on the frame before; previous: the frame before (empty:
    // none); frames: source frames since the last look. Then remembers the watched boxes.
    std::vector<bool> judge(const std::vector<cv::Rect>& boxes, const std::vector<cv::Rect>& moving,
                            const BusyMap& busy, const cv::Mat& normal, const cv::Mat& reference,
                            const cv::Mat& previous, const cv::Mat& changed_mask, int frames);
    // The boxes held on the last frame: their changed pixels are not learnt while held.
    std::vector<cv::Rect> holding() const;

private:
    struct Held {
        cv::Rect box;
        int frames;  // source frames it has been watched in a row
    };
    int hold_frames_;
    std::vector<Held> held_;  // last frame's watched blobs (held, or past the hold and counted)
};

}  // namespace qc
