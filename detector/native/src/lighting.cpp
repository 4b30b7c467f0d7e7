#include "lighting.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

namespace qc::lighting {

float median(std::vector<float>& values) {
    size_t n = values.size(), half = n / 2;
    if (n == 0) return 0.0f;
    std::nth_element(values.begin(), values.begin() + half, values.end());
    float upper = values[half];
    if (n % 2) return upper;
    float lower = *std::max_element(values.begin(), values.begin() + half);
    return (lower + upper) / 2.0f;
}

namespace {

// numpy's mean of a float32 array, as float32 pairwise sums give it (close enough in double).
double sampled_mean(const cv::Mat& m) {
    double sum = 0;
    int count = 0;
    for (int y = 0; y < m.rows; y += kSample) {
        const float* row = m.ptr<float>(y);
        for (int x = 0; x < m.cols; x += kSample, ++count) sum += row[x];
    }
    return count ? sum / count : 0.0;
}

// np.percentile(values, q) with linear interpolation; reorders `values`.
double percentile(std::vector<float>& values, double q) {
    if (values.empty()) return 0.0;
    double pos = q / 100.0 * double(values.size() - 1);
    size_t lo = size_t(std::floor(pos));
    std::nth_element(values.begin(), values.begin() + lo, values.end());
    double low = values[lo];
    if (lo + 1 >= values.size()) return low;
    double high = *std::min_element(values.begin() + lo + 1, values.end());
    return low + (high - low) * (pos - double(lo));
}

// Population standard deviation and root mean square of `m` where `pick` is set.
void moments(const cv::Mat& m, const cv::Mat& pick, double& std_dev, double& rms) {
    double sum = 0, sum2 = 0;
    int n = 0;
    for (int y = 0; y < m.rows; ++y) {
        const float* row = m.ptr<float>(y);
        const uchar* p = pick.ptr<uchar>(y);
        for (int x = 0; x < m.cols; ++x)
            if (p[x]) { sum += row[x], sum2 += double(row[x]) * row[x], ++n; }
    }
    if (!n) { std_dev = rms = 0; return; }
    double mean = sum / n;
    std_dev = std::sqrt(std::max(0.0, sum2 / n - mean * mean));
    rms = std::sqrt(sum2 / n);
}

// True if the median of `values` is certainly strictly between `low` and `high`, by counting
// alone: more than half of them above `low` and more than half below `high`. Exact, without the
// selection a median costs; false when counting cannot tell.
bool median_between(const std::vector<float>& values, float low, float high) {
    size_t above = 0, below = 0;
    for (float v : values) above += v > low, below += v < high;
    return 2 * above > values.size() && 2 * below > values.size();
}

}  // namespace

namespace {
// Python's statistics.median: the middle value, or the mean of the two middle ones.
double statistics_median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    size_t n = values.size();
    return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}
}  // namespace

void FlickerBand::watch(double level) {
    // lighting.py's FlickerBand.watch: the spread of the steps around their own median (a fade
    // steps one way and has none), before this frame's step joins them.
    std::optional<double> last = last_;
    last_ = level;
    if (!last) return;
    if (!steps_.empty()) {
        double trend = statistics_median(std::vector<double>(steps_.begin(), steps_.end()));
        std::vector<double> deviations;
        for (double step : steps_) deviations.push_back(std::abs(step - trend));
        band_ = kFlickerBandK * 1.4826 * statistics_median(deviations);
    }
    steps_.push_back((level - *last) / std::max(*last, 1.0));
    if (int(steps_.size()) > frames_) steps_.pop_front();  // a deque with maxlen
}

GainResult normalise_gain(const cv::Mat& gray, const cv::Mat& reference, double flicker) {
    GainResult out;
    double level = sampled_mean(reference), now = sampled_mean(gray);
    double ratio = (level + 1) / (now + 1);
    if (std::max(level, now) > 16 && !(1 / kMaxGain <= ratio && ratio <= kMaxGain)) {
        out.global = out.moving = true;
        return out;
    }
    int rows = (gray.rows + kSample - 1) / kSample, cols = (gray.cols + kSample - 1) / kSample;
    // The sampled ratios reference / frame, and which of them can be used (neither dark nor clipped).
    std::vector<float> ratios(size_t(rows) * cols);
    std::vector<uchar> usable(size_t(rows) * cols);
    size_t usable_count = 0;
    for (int r = 0; r < rows; ++r) {
        const float* cur = gray.ptr<float>(r * kSample);
        const float* ref = reference.ptr<float>(r * kSample);
        for (int c = 0; c < cols; ++c) {
            float f = cur[c * kSample], g = ref[c * kSample];
            size_t i = size_t(r) * cols + c;
            usable[i] = f > 8.0f && f < kClipped && g < kClipped;
            ratios[i] = g / std::max(f, 1.0f);
            usable_count += usable[i];
        }
    }
    if (usable_count < size_t(rows) * cols / 4) return out;  // too dark or too bright to estimate a gain
    std::vector<float> pick;
    pick.reserve(usable_count);
    for (size_t i = 0; i < ratios.size(); ++i)
        if (usable[i]) pick.push_back(ratios[i]);
    // Most frames, nothing changed: every cell's median (and the overall one) within the
    // deadband, which counting proves without a selection (a third of the core's time).
    const float low = float(1 - kGainDeadband), high = float(1 + kGainDeadband);
    bool quiet = median_between(pick, low, high);
    std::vector<float> cell;
    for (int gr = 0; quiet && gr < kGridRows; ++gr)
        for (int gc = 0; quiet && gc < kGridCols; ++gc) {
            int r0 = gr * rows / kGridRows, r1 = (gr + 1) * rows / kGridRows;
            int c0 = gc * cols / kGridCols, c1 = (gc + 1) * cols / kGridCols;
            cell.clear();
            for (int r = r0; r < r1; ++r)
                for (int c = c0; c < c1; ++c)
                    if (usable[size_t(r) * cols + c]) cell.push_back(ratios[size_t(r) * cols + c]);
            // a cell with too few usable pixels takes the overall median, proven inside already
            if (int(cell.size()) >= (r1 - r0) * (c1 - c0) / 4) quiet = median_between(cell, low, high);
        }
    if (quiet) return out;  // all within the deadband: the frame as it is, the light not moving
    float overall = median(pick);
    if (!(1 / kMaxGain <= overall && overall <= kMaxGain)) {
        out.global = out.moving = true;
        return out;
    }
    cv::Mat grid(kGridRows, kGridCols, CV_32F, cv::Scalar(overall));
    bool all_small = true;
    for (int gr = 0; gr < kGridRows; ++gr)
        for (int gc = 0; gc < kGridCols; ++gc) {
            int r0 = gr * rows / kGridRows, r1 = (gr + 1) * rows / kGridRows;
            int c0 = gc * cols / kGridCols, c1 = (gc + 1) * cols / kGridCols;
            pick.clear();
            for (int r = r0; r < r1; ++r)
                for (int c = c0; c < c1; ++c)
                    if (usable[size_t(r) * cols + c]) pick.push_back(ratios[size_t(r) * cols + c]);
            if (int(pick.size()) >= (r1 - r0) * (c1 - c0) / 4) grid.at<float>(gr, gc) = median(pick);
            float& g = grid.at<float>(gr, gc);
            g = std::clamp(g, float(1 / kMaxGain), float(kMaxGain));
            // a cell the flicker explains: within its band of 1, and with the whole picture's gain
            // (float32 compares, as numpy makes them)
            bool flickered = std::abs(g - 1.0f) < float(flicker) && std::abs(g / overall - 1.0f) < float(kLightMoved);
            if (std::abs(g - 1.0f) >= kLightMoved && !flickered) out.moving = true;
            if (std::abs(g - 1.0f) >= kGainDeadband) all_small = false;
        }
    if (all_small) return out;
    cv::Mat gain;
    cv::resize(grid, gain, gray.size(), 0, 0, cv::INTER_LINEAR);
    cv::multiply(gray, gain, out.normal);
    cv::Mat bright = (gray >= kClipped) | (reference >= kClipped);
    cv::dilate(bright, out.clipped, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(3, 3)));
    out.gained = true;
    return out;
}

void left_out(cv::Mat& clipped, const cv::Mat& gray, const cv::Mat& normal, const cv::Mat& reference,
              double margin, const cv::Mat& changed_mask, bool light_changed) {
    const float bound = float(double(kClipped) - margin);  // np.float32(CLIPPED - margin)
    cv::Mat fallen(clipped.size(), CV_8U, cv::Scalar(0));
    bool any = false;
    for (int y = 0; y < clipped.rows; ++y) {
        uchar* out = fallen.ptr<uchar>(y);
        const float* g = gray.ptr<float>(y);
        const float* n = normal.ptr<float>(y);
        const float* r = reference.ptr<float>(y);
        for (int x = 0; x < clipped.cols; ++x)
            if (r[x] >= kClipped && n[x] < bound && g[x] < kClipped) out[x] = 1, any = true;
    }
    if (!any) return;
    cv::Mat solid, labels, stats, centroids;
    cv::morphologyEx(fallen, solid, cv::MORPH_OPEN, cv::getStructuringElement(cv::MORPH_RECT, kSolid));
    int count = cv::connectedComponentsWithStats(solid, labels, stats, centroids, 8);
    if (count < 2) return;
    std::vector<int> kept(size_t(count), 0);  // per piece, its pixels the foreground kept
    for (int y = 0; y < labels.rows; ++y) {
        const int* label = labels.ptr<int>(y);
        const uchar* changed = changed_mask.ptr<uchar>(y);
        for (int x = 0; x < labels.cols; ++x)
            if (changed[x]) ++kept[size_t(label[x])];
    }
    std::vector<uchar> large(size_t(count), 0);
    bool some = false;
    for (int label = 1; label < count; ++label) {
        if (kept[size_t(label)] < kFallenShare * double(solid.total())) continue;
        cv::Rect box(stats.at<int>(label, cv::CC_STAT_LEFT), stats.at<int>(label, cv::CC_STAT_TOP),
                     stats.at<int>(label, cv::CC_STAT_WIDTH), stats.at<int>(label, cv::CC_STAT_HEIGHT));
        // at the frame's edge: the opening counts outside the frame as set (a 4 px strip survives there)
        if (box.x == 0 || box.y == 0 || box.x + box.width == solid.cols || box.y + box.height == solid.rows) continue;
        // a piece whose kept pixels have the shape of light (a curtain's edge over the lid) stays left out
        cv::Mat piece = (labels == label) & changed_mask;  // 255 where the piece's pixel was kept
        if (looks_like_light(normal, reference, piece, box, light_changed)) continue;
        large[size_t(label)] = 1, some = true;
    }
    if (!some) return;
    for (int y = 0; y < clipped.rows; ++y) {
        uchar* out = clipped.ptr<uchar>(y);
        const int* label = labels.ptr<int>(y);
        for (int x = 0; x < clipped.cols; ++x)
            if (large[size_t(label[x])]) out[x] = 0;  // a body before the white: compared as any pixel
    }
}

// lighting.py's ratio_window: the logs of the background and of frame / background over `box` grown by
// 2 px (cut at the picture's edge, for the blurs), and where `box` lies in that window
static cv::Rect ratio_window(const cv::Mat& normal, const cv::Mat& reference, const cv::Rect& box, cv::Mat& log_ref,
                             cv::Mat& log_ratio) {
    cv::Rect padded(std::max(0, box.x - 2), std::max(0, box.y - 2), 0, 0);
    padded.width = std::min(normal.cols, box.x + box.width + 2) - padded.x;
    padded.height = std::min(normal.rows, box.y + box.height + 2) - padded.y;
    cv::log(reference(padded) + kRatioOffset, log_ref);
    cv::log(normal(padded) + kRatioOffset, log_ratio);
    log_ratio -= log_ref;
    return cv::Rect(box.x - padded.x, box.y - padded.y, box.width, box.height);
}

bool looks_like_light(const cv::Mat& normal, const cv::Mat& reference, const cv::Mat& changed_mask,
                      const cv::Rect& box, bool light_changed) {
    cv::Mat pick = changed_mask(box) > 0;
    if (cv::countNonZero(pick) < 16) return false;
    cv::Mat log_ref, log_ratio;
    cv::Rect inner = ratio_window(normal, reference, box, log_ref, log_ratio);
    cv::Mat blurred;
    cv::GaussianBlur(log_ratio, blurred, cv::Size(0, 0), 1.5);
    double detail, departure, unused;
    moments(log_ratio(inner), pick, unused, departure);
    moments(cv::Mat(log_ratio - blurred)(inner), pick, detail, unused);
    // the light just changed, and this is as smooth as light: a faint change (a cloud shadow's edge) keeps
    // a floor of fine detail, so under LIGHT_GRAIN it is smooth whatever its departure
    if (light_changed && detail < std::max(kLightingRoughness * departure, kLightGrain)) return true;
    if (detail >= kLightingRoughness * departure) return false;  // rough: something replaced the background
    cv::GaussianBlur(log_ref, blurred, cv::Size(0, 0), 1.5);
    double texture;
    moments(cv::Mat(log_ref - blurred)(inner), pick, texture, unused);
    if (texture >= kMinTexture && detail < kTextureKept * texture) return true;  // the texture shows through
    cv::Mat dx, dy, slope;
    cv::Sobel(log_ratio, dx, CV_32F, 1, 0, 3);
    cv::Sobel(log_ratio, dy, CV_32F, 0, 1, 3);
    cv::magnitude(dx, dy, slope);
    slope /= 8.0;
    std::vector<float> values(slope.begin<float>(), slope.end<float>());
    return percentile(values, 90) < kLightingSlope * departure;  // plain background: a soft outline
}

bool faint_shading(const cv::Mat& normal, const cv::Mat& reference, const cv::Mat& changed_mask,
                   const cv::Rect& box) {
    cv::Mat pick = changed_mask(box) > 0;
    if (cv::countNonZero(pick) < 16) return false;
    cv::Mat log_ref, log_ratio;
    cv::Rect inner = ratio_window(normal, reference, box, log_ref, log_ratio);
    double detail, departure, unused;
    moments(log_ratio(inner), pick, unused, departure);
    if (departure >= kFaint) return false;  // strong: not shading
    cv::Mat blurred;
    cv::GaussianBlur(log_ratio, blurred, cv::Size(0, 0), 1.5);
    moments(cv::Mat(log_ratio - blurred)(inner), pick, detail, unused);
    return detail < kShadingSmooth * departure;  // smooth: the shape of light, a person's 0.11 left out
}

bool faint_change(const cv::Mat& normal, const cv::Mat& reference, const cv::Mat& changed_mask, const cv::Rect& box,
                  double limit) {
    cv::Mat pick = changed_mask(box) > 0;
    if (cv::countNonZero(pick) < 16) return false;
    cv::Mat log_ref, log_ratio;
    cv::Rect inner = ratio_window(normal, reference, box, log_ref, log_ratio);
    double departure, unused;
    moments(log_ratio(inner), pick, unused, departure);
    return departure < limit;
}

}  // namespace qc::lighting
