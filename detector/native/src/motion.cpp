#include "motion.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "glints.hpp"
#include "lighting.hpp"

namespace qc {

namespace {
// base.py's and switch_watch.py's constants, same names without the prefix.
constexpr double kRelearnRate = 0.25;     // RELEARN_RATE
constexpr double kNoiseK = 4.0;           // NOISE_K
constexpr double kNoiseMin = 0.5;         // NOISE_MIN
constexpr double kNoiseSmoothing = 0.1;   // NOISE_SMOOTHING
constexpr double kNormalLevel = 100.0;    // NORMAL_LEVEL
constexpr double kDarkSmoothing = 0.5;    // DARK_SMOOTHING
constexpr double kLightContextS = 2.0;    // LIGHT_CONTEXT_S
constexpr double kLightJump = 0.03;       // LIGHT_JUMP
constexpr double kLightJumpLevels = 0.5;  // LIGHT_JUMP_LEVELS
constexpr double kFlickerK = 4.0;         // FLICKER_K
constexpr double kStillShare = 0.1;       // STILL_SHARE
constexpr double kBigSwitch = 0.25;       // BIG_SWITCH (switch_watch.py)
constexpr double kGlintCalmS = 15.0;      // GLINT_CALM_S
constexpr double kHoldS = 30.0;           // HOLD_S

// Python's round(): half to even, as nearbyint does in the default rounding mode (std::round and
// std::lround go away from zero: 14.5 frames, or a contour's area of 100.5, came out one more).
int py_round(double x) { return int(std::nearbyint(x)); }

// Python's statistics.median: the middle value, or the mean of the two middle ones.
double statistics_median(const std::deque<double>& values) {
    std::vector<double> sorted(values.begin(), values.end());
    std::sort(sorted.begin(), sorted.end());
    size_t n = sorted.size();
    return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

// looks.smoothing_weight: a look frames source frames after the last, in an average that gives each
// frame weight; what the average keeps decays as over that many frames (one frame: weight, to the bit).
double smoothing_weight(double weight, int frames) {
    return frames <= 1 ? weight : 1.0 - std::pow(1.0 - weight, frames);
}

}  // namespace

RunningAverageMotion::RunningAverageMotion(const MotionConfig& config, double fps)
    : config_(config),
      fps_(fps),
      relearn_frames_(std::max(1, py_round(config.relearn_s * fps))),
      light_context_frames_(std::max(1, py_round(kLightContextS * fps))),
      hold_frames_(std::max(1, py_round(kHoldS * fps))),
      calm_frames_(std::max(1, py_round(kGlintCalmS * fps))),
      calm_(calm_frames_),
      swing_(fps),
      busy_(fps),
      flicker_(light_context_frames_) {
    kernel_ = cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(3, 3));
    // decode.py's LIMITED_TO_FULL: clip((y - 16) * 255 / 219 + 0.5, 0, 255), truncated
    full_range_.create(1, 256, CV_8U);
    for (int y = 0; y < 256; ++y)
        full_range_.at<uchar>(y) = uchar(std::clamp((y - 16) * 255.0 / 219.0 + 0.5, 0.0, 255.0));
}

void RunningAverageMotion::prepare(const cv::Mat& image, bool video_range) {
    int target_w = std::min(config_.detection_width, image.cols);
    int target_h = std::max(1, py_round(double(image.rows) * target_w / image.cols));
    // A video's luma as the Python detector takes it from its decoder (decode.py's
    // halve_towards): halved (2x2 means, OpenCV's fast exact case of an area resize) while it
    // stays at least twice the detection width, then stretched from limited range (16..235) to
    // the full-range gray detection's thresholds are meant for. Then base.py's _prepare: the
    // area resize to detection_width, float (in the dark a person is a few gray levels,
    // rounding would eat them), a Gaussian blur.
    cv::Mat shrinking = image;
    while (video_range && shrinking.cols >= 4 * config_.detection_width && shrinking.cols % 2 == 0 &&
           shrinking.rows % 2 == 0) {
        cv::Mat half;
        cv::resize(shrinking, half, cv::Size(shrinking.cols / 2, shrinking.rows / 2), 0, 0, cv::INTER_AREA);
        shrinking = half;
    }
    if (video_range) {
        cv::Mat stretched;
        cv::LUT(shrinking, full_range_, stretched);
        shrinking = stretched;
    }
    if (shrinking.cols != target_w || shrinking.rows != target_h)
        cv::resize(shrinking, small_, cv::Size(target_w, target_h), 0, 0, cv::INTER_AREA);
    else
        small_ = shrinking;
    small_.convertTo(gray_, CV_32F);
    int blur = target_w <= 240 ? 3 : 5;
    cv::GaussianBlur(gray_, gray_, cv::Size(blur, blur), 0);
}

void RunningAverageMotion::restart() {
    reference_.release(), smoothed_.release();
    persistence_.forget();
    shading_.forget();
    swing_.forget();
    relearn_left_ = relearn_frames_;
    light_context_ = after_global_ = 0;
    moving_.clear();
    motion_run_ = 0;
}

double RunningAverageMotion::threshold_for(double brightness) const {
    if (config_.dark_pixel_threshold > 0 && brightness < config_.dark_threshold)
        return double(config_.dark_pixel_threshold);
    double scaled = config_.pixel_threshold * std::min(1.0, brightness / kNormalLevel);
    return std::max(scaled, kNoiseK * noise_.value_or(kNoiseMin));
}

void RunningAverageMotion::watch_switch(double brightness, int frames) {
    // switch_watch.py's SwitchWatch.watch: a switch is a jump of kLightJump that also stands kFlickerK times
    // out of the light's own frame-to-frame spread over the last LIGHT_CONTEXT_S (1.4826 x their
    // median: a sigma robust to the switch itself); a jump of kLightJump that is not a switch is a
    // flicker (crept_in). Either moves the mean by kLightJumpLevels at least (in the dark 3 % is an
    // encoder's hiccup). The spread is taken before this frame's step joins it.
    std::optional<double> last = last_brightness_;
    last_brightness_ = brightness;
    if (!last) return;
    double step = std::abs(brightness - *last) / std::max(*last, 1.0);
    double spread = steps_.empty() ? 0.0 : 1.4826 * statistics_median(steps_);
    steps_.push_back(step);
    if (int(steps_.size()) > light_context_frames_) steps_.pop_front();  // a deque with maxlen
    switched_ = std::max(0, switched_ - frames);
    flickering_ = std::max(0, flickering_ - frames);
    if (step >= kLightJump && std::abs(brightness - *last) >= kLightJumpLevels) {
        flickering_ = light_context_frames_;
        if (step >= kFlickerK * spread) {
            switched_ = light_context_frames_;
            // a big switch up (the IR-cut filter, a lamp) is a global change for LIGHT_CONTEXT_S (base.py step 7)
            if (brightness - *last >= kBigSwitch * std::max(*last, 1.0)) after_global_ = light_context_frames_;
        }
    }
}

const cv::Mat& RunningAverageMotion::denoise(double brightness, int frames) {
    dark_ = brightness < config_.dark_threshold;
    if (!dark_) {
        smoothed_.release();
        return gray_;
    }
    if (smoothed_.empty() || smoothed_.size() != gray_.size())
        smoothed_ = gray_.clone();
    else
        cv::accumulateWeighted(gray_, smoothed_, smoothing_weight(kDarkSmoothing, frames));  // per frame
    return smoothed_;
}

void RunningAverageMotion::measure_noise(const cv::Mat& normal) {
    // The robust sigma of frame - background (median absolute deviation), sampled: the median
    // ignores anything covering under half of the picture (a person).
    samples_.clear();
    for (int y = 0; y < normal.rows; y += lighting::kSample) {
        const float* n = normal.ptr<float>(y);
        const float* r = reference_.ptr<float>(y);
        const uchar* z = zone_.mask.empty() ? nullptr : zone_.mask.ptr<uchar>(y);
        for (int x = 0; x < normal.cols; x += lighting::kSample)
            if (!z || z[x]) samples_.push_back(std::abs(n[x] - r[x]));  // inside the zone only
    }
    double sigma = std::max(kNoiseMin, 1.4826 * double(lighting::median(samples_)));
    noise_ = noise_ ? *noise_ + kNoiseSmoothing * (sigma - *noise_) : sigma;
}

void RunningAverageMotion::foreground(const cv::Mat& normal, double threshold) {
    // Outside [darkest, brightest background pixel of the 3x3 around it] by more than `threshold`
    // (running_average.py): a camera shaking by a pixel does not light up every edge.
    static const cv::Mat neighbourhood = cv::Mat::ones(3, 3, CV_8U);
    cv::erode(reference_, low_, neighbourhood);
    cv::dilate(reference_, high_, neighbourhood);
    changed_.create(normal.size(), CV_8U);
    float t = float(threshold);
    for (int y = 0; y < normal.rows; ++y) {
        const float* n = normal.ptr<float>(y);
        const float* lo = low_.ptr<float>(y);
        const float* hi = high_.ptr<float>(y);
        uchar* out = changed_.ptr<uchar>(y);
        for (int x = 0; x < normal.cols; ++x) out[x] = (n[x] < lo[x] - t || n[x] > hi[x] + t) ? 255 : 0;
    }
}

MotionResult RunningAverageMotion::result(bool motion, double area, double brightness, bool global) const {
    MotionResult r;
    r.motion = motion, r.area_fraction = area, r.brightness = brightness, r.global_change = global;
    r.dark = dark_, r.noise = noise_.value_or(0.0), r.threshold = threshold_for(brightness);
    return r;
}

MotionResult RunningAverageMotion::global_change(const cv::Mat& gray, double brightness, double changed) {
    // The whole picture changed at once (a light switched): the background starts again from this
    // frame; detection goes on from the next one while it learns fast for relearn_s.
    reference_ = gray.clone();
    persistence_.forget();
    shading_.forget();
    swing_.forget();
    relearn_left_ = relearn_frames_;
    light_context_ = after_global_ = light_context_frames_;
    previous_.release();
    moving_.clear();
    motion_run_ = 0;
    return result(false, changed, brightness, true);
}

MotionResult RunningAverageMotion::detect(const cv::Mat& image, bool video_range, int frames) {
    frames = std::max(1, frames);
    prepare(image, video_range);
    double brightness = cv::mean(gray_)[0];
    watch_switch(brightness, frames);
    const cv::Mat& gray = denoise(brightness, frames);
    flicker_.watch(dark_ ? cv::mean(gray)[0] : brightness);  // (the dark's: denoised)
    if (reference_.empty() || reference_.size() != gray.size()) {
        zone_ = zone_at(zone_source_, gray.size());
        reference_ = gray.clone();  // at start, or the first frame back after restart()
        return result(false, 0.0, brightness, relearn_left_ > 0);
    }
    lighting::GainResult gain = lighting::normalise_gain(gray, reference_, flicker_.band());
    if (gain.moving) light_context_ = light_context_frames_;  // the light is changing now (beyond its flicker)
    if (gain.global) return global_change(gray, brightness, 1.0);
    const cv::Mat& normal = gain.gained ? gain.normal : gray;
    bool relearning = relearn_left_ > 0;
    // looks.py's context_step: never the whole context at once (a context armed at one look holds at the next)
    const int step = std::max(1, std::min(frames, light_context_frames_ - 1));
    light_context_ = std::max(0, light_context_ - step);
    after_global_ = std::max(0, after_global_ - step);
    double rate = relearning ? std::max(kRelearnRate, config_.learning_rate) : config_.learning_rate;
    measure_noise(normal);
    double threshold = threshold_for(brightness);
    foreground(normal, threshold);
    busy_.gate(normal, reference_, threshold, changed_, !relearning);
    if (gain.gained) {
        // a body before the white: compared
        lighting::left_out(gain.clipped, gray, normal, reference_, threshold, changed_, light_context_ > 0);
        changed_.setTo(0, gain.clipped);
    }
    if (!zone_.mask.empty()) cv::bitwise_and(changed_, zone_.mask, changed_);  // pixels outside the zones
    double changed = double(cv::countNonZero(changed_)) / zone_.area;
    if (changed >= config_.global_change_fraction) return global_change(gray, brightness, changed);
    if (relearning) relearn_left_ = std::max(0, relearn_left_ - frames);  // just after a global change: learn fast
    // while relearning, the frame as it is (base.py step 5): the gain would divide the settling light out
    learn(relearning ? gray : normal, rate, gain.gained ? &gain.clipped : nullptr, frames);
    MotionResult out = blobs(image.cols, normal, brightness, relearning, threshold, frames);
    normal.copyTo(previous_);  // for still(): the next frame's gray_ overwrites this one's
    return out;
}

void RunningAverageMotion::learn(const cv::Mat& normal, double rate, const cv::Mat* clipped, int frames) {
    // base.py's _learn: fold `normal` into the background, except clipped pixels and a person's
    // pixels (changed, inside last frame's motion boxes) until they have been changed for HOLD_S:
    // a person who stands still stays motion; a thing left behind joins after HOLD_S.
    const cv::Mat* keep = clipped;
    if (moving_.empty()) {
        changed_for_.release();  // no one to hold: counting starts again with the next motion
    } else {
        if (changed_for_.size() != changed_.size()) changed_for_ = cv::Mat::zeros(changed_.size(), CV_16U);
        const int hold = hold_frames_, add = std::min(frames, hold_frames_);  // counted in source frames
        for (int y = 0; y < changed_.rows; ++y) {
            const uchar* c = changed_.ptr<uchar>(y);
            ushort* n = changed_for_.ptr<ushort>(y);
            for (int x = 0; x < changed_.cols; ++x) n[x] = c[x] ? ushort(std::min(int(n[x]) + add, hold)) : 0;
        }
        if (clipped)
            clipped->copyTo(keep_);
        else
            keep_ = cv::Mat::zeros(changed_.size(), CV_8U);
        const cv::Rect picture(0, 0, changed_.cols, changed_.rows);
        for (const cv::Rect& moved : moving_) {
            // Last frame's boxes, clipped to this frame as numpy's slices clip them: a picture whose size
            // changed mid-stream (a camera switching resolution) left them outside it, and the loop below
            // read and wrote past the masks (a crash, or memory quietly overwritten).
            const cv::Rect box = moved & picture;
            for (int y = box.y; y < box.y + box.height; ++y) {
                const uchar* c = changed_.ptr<uchar>(y);
                const ushort* n = changed_for_.ptr<ushort>(y);
                uchar* k = keep_.ptr<uchar>(y);
                for (int x = box.x; x < box.x + box.width; ++x)
                    if (c[x] && n[x] < hold) k[x] = 255;
            }
        }
        keep = &keep_;
    }
    const std::vector<cv::Rect> holding = swing_.holding();
    if (!holding.empty()) {
        // nor a held overshoot's (swing.hpp): a person held there keeps his departure
        if (keep != &keep_) {
            if (keep)
                keep->copyTo(keep_);
            else
                keep_ = cv::Mat::zeros(changed_.size(), CV_8U);
            keep = &keep_;
        }
        const cv::Rect picture(0, 0, changed_.cols, changed_.rows);
        for (const cv::Rect& held : holding) {
            const cv::Rect box = held & picture;  // (as numpy's slices clip them)
            for (int y = box.y; y < box.y + box.height; ++y) {
                const uchar* c = changed_.ptr<uchar>(y);
                uchar* k = keep_.ptr<uchar>(y);
                for (int x = box.x; x < box.x + box.width; ++x)
                    if (c[x]) k[x] = 255;
            }
        }
    }
    if (keep) {
        cv::compare(*keep, 0, learn_mask_, cv::CMP_EQ);
        cv::accumulateWeighted(normal, reference_, rate, learn_mask_);
    } else {
        cv::accumulateWeighted(normal, reference_, rate);
    }
}

bool RunningAverageMotion::still(const cv::Mat& normal, const cv::Rect& box, double area, double threshold) const {
    // Just after a switch of light, what the light left behind (a clipped highlight, the rim of
    // its pool) stands still between two frames; a person's blob changes.
    if (previous_.empty() || previous_.size() != normal.size()) return false;
    cv::Mat diff;
    cv::absdiff(normal(box), previous_(box), diff);
    return cv::countNonZero(diff > threshold) < kStillShare * area;
}

bool RunningAverageMotion::crept_in(const cv::Rect& box) const {
    // switch_watch.py's crept_in: in a flickering light, a still blob that overlaps none of last frame's
    // motion boxes crept over the threshold (a cloud shadow's edge, a curtain's shading) and is
    // absorbed; one that does is a person who arrived moving and now stands, and counts.
    for (const cv::Rect& b : moving_)
        if (box.x < b.x + b.width && b.x < box.x + box.width && box.y < b.y + b.height && b.y < box.y + box.height)
            return false;
    return true;
}

MotionResult RunningAverageMotion::blobs(int full_width, const cv::Mat& normal, double brightness, bool relearning,
                                         double threshold, int frames) {
    cv::morphologyEx(changed_, mask_, cv::MORPH_OPEN, kernel_);
    cv::dilate(mask_, mask_, kernel_, cv::Point(-1, -1), 2);
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(mask_, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
    double frame_area = double(mask_.total()), min_area = config_.min_area_fraction * frame_area;
    double scale = double(full_width) / mask_.cols;
    std::vector<cv::Rect> boxes;
    std::vector<double> areas;
    int lighting = 0, revealed = 0, stood = 0;
    bool lit = false;  // a blob was light by its own shape, not only by the light context
    // base.py's _young_after_calm: motion one look old, none two looks in a row for GLINT_CALM_S
    const bool young_after_calm = motion_run_ == 1 && calm_ >= calm_frames_;
    const bool snow = !contours.empty() && glints::snowing(changed_);  // flakes all over: a glint need not be faint
    for (const auto& contour : contours) {
        double contour_area = cv::contourArea(contour);
        if (contour_area < min_area) continue;
        cv::Rect box = cv::boundingRect(contour);
        // within LIGHT_CONTEXT_S of a global change, a blob that moved since the last frame is not light for
        // its smoothness alone (base.py step 7: a lamp's leftovers stand still, its walker does not)
        const bool moved = after_global_ > 0 && light_context_ > 0 && !previous_.empty() &&
                           !still(normal, box, py_round(contour_area), threshold);
        const bool light_changed = light_context_ > 0 && !moved;
        if (lighting::looks_like_light(normal, reference_, changed_, box, light_changed)) {
            ++lighting;  // after a global change, light by the context alone does not arm it again (base.py step 7)
            lit = lit || !light_changed || !after_global_ ||
                  lighting::looks_like_light(normal, reference_, changed_, box, false);
        } else if ((switched_ || flickering_) && still(normal, box, py_round(contour_area), threshold)) {
            if (switched_ || crept_in(box)) {
                ++revealed;  // left behind by the switch (a clipped highlight, a pool's rim), or crept in
            } else {
                ++stood;  // in a flicker, last frame's motion standing still: counted, learnt around
                boxes.push_back(box), areas.push_back(contour_area);
            }
        } else if ((crept_in(box) || young_after_calm) && (glints::on_water(busy_, box) || glints::is_speck(changed_, box)) &&
                   glints::is_glint(normal, reference_, changed_, box, threshold, min_area, !snow)) {
            continue;  // faint bright specks in a busy place (water's glints), or one round speck (an insect): not shown
        } else
            boxes.push_back(box), areas.push_back(contour_area);
    }
    // shading.py's StillShading: a busy place's smooth, faint change is held while watched, and
    // learnt at once (not motion) once it has stood still for kShadingFrames frames
    const std::vector<Shading> shading = shading_.judge(boxes, moving_, busy_, normal, reference_, changed_);
    // swing.py's SwingOvershoot: a very busy place's faint change that crept in is held, a second at most
    const std::vector<bool> swing = swing_.judge(boxes, moving_, busy_, normal, reference_, previous_, changed_, frames);
    std::vector<bool> held;
    std::vector<cv::Rect> keep;
    bool shaded = false;
    for (size_t k = 0; k < boxes.size(); ++k) {
        held.push_back(shading[k] != Shading::none || swing[k]);
        if (shading[k] == Shading::shading)
            shaded = true;
        else
            keep.push_back(boxes[k]);
    }
    std::vector<bool> bright;  // (only for close looks: at sparse looks a walker is far from his last blob)
    const bool close = double(frames) / fps_ <= kCloseLooksS;
    if (close)
        for (const cv::Rect& box : boxes) bright.push_back(glints::adds_light(normal, reference_, changed_, box));
    std::vector<bool> counted = persistence_.counts(boxes, busy_, lighting > 0, &held, close ? &bright : nullptr);
    double area = 0;
    std::vector<cv::Rect> full;
    moving_.clear();
    for (size_t k = 0; k < boxes.size(); ++k) {
        if (!counted[k]) continue;
        const cv::Rect& b = boxes[k];
        moving_.push_back(b);
        full.emplace_back(int(b.x * scale), int(b.y * scale), int(b.width * scale), int(b.height * scale));
        area += areas[k];
    }
    motion_run_ = moving_.empty() ? 0 : motion_run_ + 1;
    calm_ = motion_run_ >= 2 ? 0 : std::min(calm_frames_, calm_ + frames);
    if (lit) light_context_ = light_context_frames_;
    if (lighting || revealed || stood || shaded) absorb(normal, keep);  // (shading learnt with the rest)
    MotionResult out = result(!full.empty(), area / frame_area, brightness, relearning);
    out.boxes = std::move(full);
    out.lighting_blobs = lighting + revealed;
    return out;
}

void RunningAverageMotion::absorb(const cv::Mat& normal, const std::vector<cv::Rect>& keep) {
    // Light changed somewhere: the whole picture into the background at once, except the blobs
    // that are not light (a patched box would leave a seam the next frame takes for an outline).
    std::vector<cv::Mat> saved;
    for (const auto& box : keep) saved.push_back(reference_(box).clone());
    normal.copyTo(reference_);
    for (size_t k = 0; k < keep.size(); ++k) saved[k].copyTo(reference_(keep[k]));
}

}  // namespace qc
