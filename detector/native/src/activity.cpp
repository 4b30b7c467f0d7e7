#include "activity.hpp"

#include <algorithm>
#include <opencv2/imgproc.hpp>

namespace qc {

BusyMap::BusyMap(double fps) : rate_(std::min(1.0, 1.0 / (kBusyS * fps))) {
    reach_ = cv::Mat::ones(5, 5, CV_8U);
}

double BusyMap::score(const cv::Rect& box) const {
    if (before_busy_.empty() || box.width <= 0 || box.height <= 0) return 0.0;
    double busy = cv::mean(before_busy_(box))[0];
    return std::min(1.0, std::max(0.0, (busy - kBusyFloor) / (kBusyFull - kBusyFloor)));
}

double BusyMap::around(const cv::Rect& box, int grow, double cap) const {
    if (before_busy_.empty()) return 0.0;
    cv::Rect grown(box.x - grow, box.y - grow, box.width + 2 * grow, box.height + 2 * grow);
    grown &= cv::Rect(0, 0, before_busy_.cols, before_busy_.rows);
    if (grown.width <= 0 || grown.height <= 0) return 0.0;
    cv::Mat capped;
    cv::min(before_busy_(grown), cap, capped);
    return cv::mean(capped)[0];
}

void BusyMap::gate(const cv::Mat& normal, const cv::Mat& reference, double threshold, cv::Mat& mask, bool learn) {
    cv::absdiff(normal, reference, diff_);
    changed_ = diff_ > threshold;
    if (busy_.empty() || busy_.size() != changed_.size() || before_.empty()) {
        busy_ = cv::Mat::zeros(changed_.size(), CV_32F);
        before_ = changed_.clone();
    }
    cv::compare(changed_, before_, flips_, cv::CMP_NE);
    changed_.copyTo(before_);
    busy_.copyTo(before_busy_);  // what was known of the place before this frame's own flips
    if (learn) {
        ++seen_;  // a plain mean until BUSY_S has passed: a tree is known as busy from the start
        cv::Mat flips;
        flips_.convertTo(flips, CV_32F, 1.0 / 255.0);
        cv::accumulateWeighted(flips, busy_, std::max(rate_, 1.0 / double(seen_)));
    }
    double most;
    cv::minMaxLoc(busy_, nullptr, &most);
    if (most <= kBusyFloor) return;  // no busy pixel: nothing raised (activity.py computes it all to the same end)
    busy_.convertTo(raise_, CV_32F, 1.0 / (kBusyFull - kBusyFloor), -kBusyFloor / (kBusyFull - kBusyFloor));
    cv::erode(reference, low_, reach_);
    cv::dilate(reference, high_, reach_);
    for (int y = 0; y < mask.rows; ++y) {
        const float* r = raise_.ptr<float>(y);
        const float* n = normal.ptr<float>(y);
        const float* lo = low_.ptr<float>(y);
        const float* hi = high_.ptr<float>(y);
        uchar* m = mask.ptr<uchar>(y);
        for (int x = 0; x < mask.cols; ++x) {
            if (r[x] <= 0.0f) continue;
            float raise_by = std::min(1.0f, r[x]);
            float excess = std::max(lo[x] - n[x], n[x] - hi[x]);
            if (excess <= float(threshold * (1.0 + kBusyGain * raise_by))) m[x] = 0;
        }
    }
}

std::vector<bool> Persistence::counts(const std::vector<cv::Rect>& boxes, const BusyMap& busy, bool stirred,
                                     const std::vector<bool>* held, const std::vector<bool>* bright) {
    std::vector<bool> verdicts;
    bool any = false;
    for (size_t i = 0; i < boxes.size(); ++i) {
        const cv::Rect& box = boxes[i];
        const bool light = bright && (*bright)[i];
        bool ok = !(moved_ || stirred) || (busy.score(box) < kPersistScore && !(light && moved_));
        for (size_t k = 0; !ok && k < before_.size(); ++k) ok = (box & before_[k]).area() > 0;
        if (held && (*held)[i]) ok = false;
        verdicts.push_back(ok);
        any = any || ok;
    }
    before_ = boxes, moved_ = any;
    return verdicts;
}

}  // namespace qc
