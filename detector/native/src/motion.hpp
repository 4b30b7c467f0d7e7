// Motion by running average, as detector/motion/running_average.py with the same [motion]
// parameters: shrink to detection_width, gray, blur; a pixel moved when it differs from the
// running mean by pixel_threshold (dark_pixel_threshold in the dark); blobs smaller than
// min_area_fraction are noise; global_change_fraction of the frame at once is lighting, the
// background is re-learnt for relearn_s. Not implemented (reported at start-up): the exposure
// gain normalisation and the lighting check of large blobs.
#pragma once

#include <opencv2/core.hpp>
#include <vector>

#include "config.hpp"

namespace qc {

struct MotionResult {
    bool motion = false;
    double area_fraction = 0.0;
    std::vector<cv::Rect> boxes;  // full-frame pixels
    double brightness = 0.0;
    bool global_change = false;
};

class RunningAverageMotion {
public:
    RunningAverageMotion(const MotionConfig& config, double fps);
    // luma: the frame's Y plane (limited range, as video is); boxes are in its pixels.
    MotionResult detect(const cv::Mat& luma);

private:
    MotionConfig config_;
    int relearn_frames_;
    int relearn_left_ = 0;
    cv::Mat reference_;  // float32 running average
    cv::Mat small_, ref8_, diff_, mask_;
    cv::Mat kernel_, full_range_;
};

}  // namespace qc
