#include "motion.hpp"

#include <cmath>
#include <opencv2/imgproc.hpp>

namespace qc {

namespace { constexpr double kRelearnRate = 0.25; }

RunningAverageMotion::RunningAverageMotion(const MotionConfig& config, double fps)
    : config_(config), relearn_frames_(std::max(1, int(std::lround(config.relearn_s * fps)))) {
    kernel_ = cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(3, 3));
    // Video luma spans 16..235; the Python detector's gray (from BGR) spans 0..255. Stretched
    // so the thresholds mean the same on both.
    full_range_.create(1, 256, CV_8U);
    for (int y = 0; y < 256; ++y) full_range_.at<uchar>(y) = cv::saturate_cast<uchar>((y - 16) * 255.0 / 219.0);
}

MotionResult RunningAverageMotion::detect(const cv::Mat& image) {
    MotionResult result;
    int target_w = std::min(config_.detection_width, image.cols);
    int target_h = std::max(1, int(std::lround(double(image.rows) * target_w / image.cols)));
    // The luma plane is the gray image: halve it while it is at least twice the detection
    // size: OpenCV's area average has a fast path for exact halves (0.08 ms against 0.5 ms
    // for one 4x INTER_AREA at 640x480) and successive 2x2 means are the same box mean.
    cv::Mat shrinking = image;
    while (shrinking.cols / 2 >= target_w && shrinking.cols % 2 == 0 && shrinking.rows % 2 == 0) {
        cv::Mat half;
        cv::resize(shrinking, half, cv::Size(shrinking.cols / 2, shrinking.rows / 2), 0, 0, cv::INTER_AREA);
        shrinking = half;
    }
    if (shrinking.cols != target_w || shrinking.rows != target_h)
        cv::resize(shrinking, small_, cv::Size(target_w, target_h), 0, 0, cv::INTER_AREA);
    else
        small_ = shrinking.clone();
    cv::LUT(small_, full_range_, small_);
    int blur = target_w <= 240 ? 3 : 5;
    cv::GaussianBlur(small_, small_, cv::Size(blur, blur), 0);
    result.brightness = cv::mean(small_)[0];
    if (reference_.empty() || reference_.size() != small_.size()) {
        small_.convertTo(reference_, CV_32F);
        return result;
    }
    bool relearning = relearn_left_ > 0;
    double rate = relearning ? std::max(kRelearnRate, config_.learning_rate) : config_.learning_rate;
    int threshold = config_.dark_pixel_threshold > 0 && result.brightness < config_.dark_threshold
                        ? config_.dark_pixel_threshold : config_.pixel_threshold;
    reference_.convertTo(ref8_, CV_8U);
    cv::absdiff(small_, ref8_, diff_);
    cv::threshold(diff_, mask_, threshold - 1, 255, cv::THRESH_BINARY);
    double changed = double(cv::countNonZero(mask_)) / double(mask_.total());
    result.area_fraction = changed;
    if (relearning) {  // still settling after a global change: learn, report nothing
        --relearn_left_;
        cv::accumulateWeighted(small_, reference_, rate);
        result.global_change = true;
        return result;
    }
    if (changed >= config_.global_change_fraction) {
        small_.convertTo(reference_, CV_32F);
        relearn_left_ = relearn_frames_;
        result.global_change = true;
        return result;
    }
    cv::accumulateWeighted(small_, reference_, rate);
    cv::morphologyEx(mask_, mask_, cv::MORPH_OPEN, kernel_);
    cv::dilate(mask_, mask_, kernel_, cv::Point(-1, -1), 2);
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(mask_, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
    double frame_area = double(mask_.total()), min_area = config_.min_area_fraction * frame_area;
    double scale = double(image.cols) / mask_.cols, area = 0;
    for (const auto& contour : contours) {
        double contour_area = cv::contourArea(contour);
        if (contour_area < min_area) continue;
        cv::Rect r = cv::boundingRect(contour);
        area += contour_area;
        result.boxes.emplace_back(int(r.x * scale), int(r.y * scale), int(r.width * scale), int(r.height * scale));
    }
    result.motion = !result.boxes.empty();
    result.area_fraction = area / frame_area;
    return result;
}

}  // namespace qc
