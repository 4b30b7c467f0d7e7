// A port of detector/motion/light_trail.py: see its docstring.
#include "light_trail.hpp"

#include <algorithm>
#include <cmath>

#include "lighting.hpp"

namespace qc {

namespace {
int py_round_frames(double x) { return int(std::nearbyint(x)); }  // Python's round (half to even)
}  // namespace

LightTrail::LightTrail(double fps) : frames_(std::max(1, py_round_frames(kTrailS * fps))) {}

void LightTrail::reset() {
    before_.release();
    age_ = 0;
}

void LightTrail::remember(const cv::Mat& reference, bool light_context) {
    if (before_.empty() || age_ > frames_ || !light_context)
        reference.copyTo(before_);
    else
        cv::min(before_, reference, before_);
    age_ = 0;
}

bool LightTrail::explains(const cv::Mat& normal, const cv::Mat& reference, const cv::Mat& changed_mask,
                          const cv::Rect& box, double threshold, bool light_context) const {
    const bool recent = !before_.empty() && light_context && age_ <= frames_;
    const cv::Mat& base = recent ? before_ : reference;
    const float offset = float(lighting::kRatioOffset), lit_up = float(kLitUp);
    const float tolerance = float(threshold), lit = float(2 * threshold);
    long count = 0, explained = 0;
    double base_sum = 0;
    for (int y = box.y; y < box.y + box.height; ++y) {
        const uchar* m = changed_mask.ptr<uchar>(y);
        const float* c = normal.ptr<float>(y);
        const float* r = reference.ptr<float>(y);
        const float* b = base.ptr<float>(y);
        for (int x = box.x; x < box.x + box.width; ++x) {
            if (!m[x]) continue;
            ++count;
            base_sum += b[x];
            const bool up = (c[x] + offset) > lit_up * (r[x] + offset);
            const bool leaving = (r[x] - b[x]) > lit;
            if (c[x] >= b[x] - tolerance && (up || leaving)) ++explained;
        }
    }
    if (count < 16) return false;
    if (base_sum / double(count) >= kDarkRoom) return false;
    return double(explained) / double(count) > kTrailShare;
}

}  // namespace qc
