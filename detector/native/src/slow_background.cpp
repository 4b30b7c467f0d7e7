#include "slow_background.hpp"

#include "activity.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

namespace qc {

const cv::Mat* SlowBackground::held(const cv::Mat& normal, double threshold, const cv::Mat& busy) {
    if (picture_.empty() || picture_.size() != normal.size()) return nullptr;
    held_.create(normal.size(), CV_8U);
    // float throughout, as numpy computes slow_background.py's float32 arrays with Python floats
    const float t = float(threshold * kHeldShare), floor = float(kBusyFloor), per = float(1.0 / (kBusyFull - kBusyFloor)),
                gain = float(kBusyGain);
    const bool raised = !busy.empty() && busy.size() == normal.size();
    if (off_.size() != normal.size()) off_ = cv::Mat::zeros(normal.size(), CV_8U);
    bool any = false;
    for (int y = 0; y < normal.rows; ++y) {
        const float* n = normal.ptr<float>(y);
        const float* p = picture_.ptr<float>(y);
        const float* b = raised ? busy.ptr<float>(y) : nullptr;
        uchar* h = held_.ptr<uchar>(y);
        uchar* o = off_.ptr<uchar>(y);
        for (int x = 0; x < normal.cols; ++x) {
            float limit = t;
            if (b) limit = t * (1.0f + gain * std::clamp((b[x] - floor) * per, 0.0f, 1.0f));
            o[x] = std::abs(n[x] - p[x]) > limit ? uchar(std::min(int(o[x]) + 1, kHeldAfter)) : 0;
            h[x] = o[x] >= kHeldAfter ? 255 : 0;
            any = any || h[x];
        }
    }
    if (kept_.size() != held_.size())
        held_.copyTo(kept_);
    else
        cv::bitwise_or(kept_, held_, kept_);
    return any ? &held_ : nullptr;
}

void SlowBackground::learn(const cv::Mat& frame, double rate, const cv::Mat* clipped) {
    if (picture_.empty() || picture_.size() != frame.size()) {
        reset(frame);
    } else if (!clipped) {
        cv::accumulateWeighted(frame, picture_, rate);
    } else {
        cv::compare(*clipped, 0, mask_, cv::CMP_EQ);
        cv::accumulateWeighted(frame, picture_, rate, mask_);
    }
}

void SlowBackground::absorb(const cv::Mat& normal, const std::vector<cv::Rect>& keep) {
    if (picture_.empty() || picture_.size() != normal.size()) {
        reset(normal);
        return;
    }
    std::vector<cv::Mat> saved;
    for (const auto& box : keep) saved.push_back(picture_(box).clone());
    normal.copyTo(picture_);
    off_.release(), kept_.release();
    for (size_t k = 0; k < keep.size(); ++k) saved[k].copyTo(picture_(keep[k]));
}

}  // namespace qc
