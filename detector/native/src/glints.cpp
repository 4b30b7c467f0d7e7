#include "glints.hpp"

#include <cstdlib>
#include <opencv2/imgproc.hpp>

namespace qc::glints {

bool on_water(const BusyMap& busy, const cv::Rect& box) {
    return busy.around(box, kGlintRegion, kGlintRegionCap) >= kGlintRegionBusy;
}

bool is_speck(const cv::Mat& changed, const cv::Rect& box) {
    cv::Mat labels, stats, centroids;
    int pieces = cv::connectedComponentsWithStats(changed(box), labels, stats, centroids, 8, CV_32S);
    return pieces == 2 &&
           std::abs(stats.at<int>(1, cv::CC_STAT_WIDTH) - stats.at<int>(1, cv::CC_STAT_HEIGHT)) <= kSpeckRound;
}

bool snowing(const cv::Mat& changed) {
    cv::Mat labels;
    return cv::connectedComponents(changed, labels, 8, CV_32S) - 1 >= kSnowSpecks;
}

namespace {

// The changed pixels in box: how many, how many brighter than the reference, how many by strong_at or more.
struct Changed {
    long count = 0, bright = 0, strong = 0;
};

Changed changed_in(const cv::Mat& normal, const cv::Mat& reference, const cv::Mat& changed, const cv::Rect& box,
                   double strong_at) {
    Changed seen;
    for (int y = box.y; y < box.y + box.height; ++y) {
        const float* n = normal.ptr<float>(y);
        const float* r = reference.ptr<float>(y);
        const unsigned char* c = changed.ptr<unsigned char>(y);
        for (int x = box.x; x < box.x + box.width; ++x) {
            if (!c[x]) continue;
            float diff = n[x] - r[x];  // float32, as numpy's difference of the two float32 pictures
            ++seen.count;
            seen.bright += diff > 0.0f;
            seen.strong += double(diff) >= strong_at;
        }
    }
    return seen;
}

}  // namespace

bool adds_light(const cv::Mat& normal, const cv::Mat& reference, const cv::Mat& changed, const cv::Rect& box) {
    Changed seen = changed_in(normal, reference, changed, box, 0.0);
    return seen.count && double(seen.bright) >= kGlintBright * double(seen.count);
}

cv::Size uncut_size(const cv::Mat& changed, const cv::Rect& box) {
    int w = box.width + kBlobMargin * ((box.x == 0) + (box.x + box.width == changed.cols));
    int h = box.height + kBlobMargin * ((box.y == 0) + (box.y + box.height == changed.rows));
    return {w, h};
}

bool is_glint(const cv::Mat& normal, const cv::Mat& reference, const cv::Mat& changed, const cv::Rect& box,
              double threshold, double min_area, bool faint) {
    Changed seen = changed_in(normal, reference, changed, box, kGlintExcess * threshold);
    long count = seen.count, bright = seen.bright, strong = seen.strong;
    cv::Size full = uncut_size(changed, box);
    if (!count || double(count) >= kGlintFill * full.width * full.height) return false;
    if (double(bright) < kGlintBright * double(count)) return false;
    if (faint && 2 * strong >= count) return false;
    cv::Mat labels, stats, centroids;
    int pieces = cv::connectedComponentsWithStats(changed(box), labels, stats, centroids, 8, CV_32S);
    int largest = 0;
    for (int k = 1; k < pieces; ++k) largest = std::max(largest, stats.at<int>(k, cv::CC_STAT_AREA));
    return double(largest) < kGlintPiece * min_area;
}

}  // namespace qc::glints
