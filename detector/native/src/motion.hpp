// Motion detection: a port of Python's motion core, detector/motion/base.py with
// running_average.py's foreground (its docstrings are the spec; docs/native.md lists what is
// mirrored). Per frame: shrink to detection_width, gray as float, blur; in the dark, average
// over time; divide a smooth lighting gain out (lighting.cpp); measure the noise of
// frame - background and threshold at max(pixel_threshold scaled with brightness, 4 x noise);
// foreground against the 3x3 range of the background; raise the threshold where pixels flip
// (activity.cpp); a change of global_change_fraction restarts the background; blobs under
// min_area_fraction are noise, blobs shaped like light or standing still just after a switch
// are not motion (in a flicker that is not a switch, only a still blob that crept in is not;
// last frame's motion standing still counts); a busy place's blob must persist (and, in a frame where other blobs were taken
// for light, never counts on its first frame), and so must a blob that only adds light (rain) in a quiet place; while
// the picture is full of specks (snow in the IR light) a glint need not be faint. A person's changed pixels inside the last
// frame's motion boxes join the background only after HOLD_S.
#pragma once

#include <deque>
#include <opencv2/core.hpp>
#include <optional>
#include <vector>

#include "activity.hpp"
#include "shading.hpp"
#include "swing.hpp"
#include "lighting.hpp"
#include "config.hpp"
#include "zones.hpp"

namespace qc {

struct MotionResult {
    bool motion = false;
    double area_fraction = 0.0;  // share of the frame covered by blobs large enough to count
    std::vector<cv::Rect> boxes;  // full-frame pixels
    double brightness = 0.0;      // mean gray level 0..255 before any correction
    bool global_change = false;   // lighting changed the whole picture; the background is re-learning
    int lighting_blobs = 0;       // blobs recognised as a change of light and ignored
    bool dark = false;            // below dark_threshold: frames are denoised over time
    double noise = 0.0;           // measured noise of frame - background, gray levels
    double threshold = 0.0;       // the pixel threshold of this frame
};

class RunningAverageMotion {
public:
    RunningAverageMotion(const MotionConfig& config, double fps);
    // gray: 8-bit, any size. video_range: its levels span 16..235 (a video's luma plane) and are
    // stretched to 0..255 like the Python detector's gray from BGR. Boxes are in its pixels.
    // frames: source frames since the last look (1: every frame is looked at); the counters (light
    // context, re-learning, the switch watch, the hold) step down by that many (motion/looks.py).
    MotionResult detect(const cv::Mat& gray, bool video_range = true, int frames = 1);
    // The camera was away: start the background again from the next frame (base.py's restart).
    void restart();
    // Watch only `zone_mask` (zones.hpp, any size; empty: everything), from the next background on.
    void watch(const cv::Mat& zone_mask) { zone_source_ = zone_mask; }
    // The gray-level change that counts at `brightness` (base.py's threshold_for).
    double threshold_for(double brightness) const;
    // The last frame shrunk, gray (float) and blurred: base.py's MotionDetector.gray, the view guard's picture.
    const cv::Mat& gray() const { return gray_; }

private:
    void prepare(const cv::Mat& image, bool video_range);
    void watch_switch(double brightness, int frames);
    const cv::Mat& denoise(double brightness, int frames);
    void measure_noise(const cv::Mat& normal);
    void foreground(const cv::Mat& normal, double threshold);
    void learn(const cv::Mat& normal, double rate, const cv::Mat* clipped, int frames);
    MotionResult global_change(const cv::Mat& gray, double brightness, double changed);
    MotionResult result(bool motion, double area, double brightness, bool global) const;
    bool still(const cv::Mat& normal, const cv::Rect& box, double area, double threshold) const;
    bool crept_in(const cv::Rect& box) const;
    MotionResult blobs(int full_width, const cv::Mat& normal, double brightness, bool relearning, double threshold,
                       int frames);
    void absorb(const cv::Mat& normal, const std::vector<cv::Rect>& keep);

    MotionConfig config_;
    double fps_;  // the source's rate: how far apart two looks are (frames / fps_)
    int relearn_frames_, light_context_frames_, hold_frames_, calm_frames_;
    int relearn_left_ = 0, light_context_ = 0;
    int after_global_ = 0;  // frames left of LIGHT_CONTEXT_S since a global change or a big switch (a moving blob is not light)
    int switched_ = 0;    // frames left in which a light just switched (the mean jumped out of its flicker)
    int flickering_ = 0;  // frames left in which the mean jumped kLightJump, a switch or only a flicker
    std::deque<double> steps_;  // the last light_context_frames_ |frame-to-frame| brightness moves (watch_switch)
    std::optional<double> last_brightness_, noise_;
    bool dark_ = false;
    cv::Mat reference_;           // CV_32F running average of normalised frames
    cv::Mat smoothed_;            // CV_32F temporally denoised frame, in the dark
    cv::Mat previous_;            // CV_32F last frame at the background's exposure (still)
    cv::Mat small_, gray_, changed_, low_, high_, mask_, learn_mask_, keep_;
    cv::Mat changed_for_;         // CV_16U per pixel, frames changed in a row while there is motion (learn)
    std::vector<cv::Rect> moving_;  // last frame's motion boxes, detection size (learn)
    int motion_run_ = 0;          // looks in a row with motion, up to the last one (a glint confirms none: blobs)
    int calm_;                    // source frames since motion ran two looks in a row, at most calm_frames_
    StillShading shading_;        // a busy place's smooth, faint change that stands still: learnt, not motion
    SwingOvershoot swing_;        // a very busy place's faint change that crept in (a curtain's edge): held
    cv::Mat kernel_, full_range_;  // full_range_: the limited-to-full-range lookup table
    std::vector<float> samples_;
    cv::Mat zone_source_;         // the zone as given; zone_ is it at the detection size (base.py's _set_zone)
    Zone zone_;
    BusyMap busy_;
    Persistence persistence_;
    lighting::FlickerBand flicker_;  // what the light's own flicker moves the gain (normalise_gain)
};

}  // namespace qc
