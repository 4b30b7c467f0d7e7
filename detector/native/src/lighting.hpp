// Light, told apart from motion: a port of detector/motion/lighting.py (same constants, same
// steps; that file's docstrings are the spec). normalise_gain divides a camera's exposure change
// or a lamp's smooth pool out of the frame; looks_like_light judges a blob by the shape of its
// change (the log of frame / background), not by its size.
#pragma once

#include <deque>
#include <opencv2/core.hpp>
#include <optional>
#include <vector>

namespace qc::lighting {

constexpr double kGainDeadband = 0.02;  // GAIN_DEADBAND
constexpr double kMaxGain = 3.0;        // MAX_GAIN
constexpr int kGridRows = 3, kGridCols = 4;  // GAIN_GRID
constexpr int kSample = 3;              // SAMPLE: estimates read every 3rd pixel of every 3rd row
constexpr float kClipped = 240.0f;      // CLIPPED
const cv::Size kSolid(5, 5);            // SOLID: left_out's opening (a rectangle)
constexpr double kFallenShare = 0.0025; // FALLEN_SHARE: left_out's smallest piece, a share of the frame
constexpr double kRatioOffset = 4.0;    // RATIO_OFFSET
constexpr double kLightingSlope = 0.25;     // LIGHTING_SLOPE
constexpr double kLightingRoughness = 0.15; // LIGHTING_ROUGHNESS
constexpr double kLightGrain = 0.05;        // LIGHT_GRAIN: in a change of light, detail under this is smooth
constexpr double kLightMoved = 0.05;    // LIGHT_MOVED
constexpr double kFlickerBandK = 4.0;   // FLICKER_BAND_K
constexpr double kMinTexture = 0.012;   // MIN_TEXTURE
constexpr double kTextureKept = 0.5;    // TEXTURE_KEPT

// numpy's median of float32 values (the middle pair's float32 sum halved); reorders `values`.
float median(std::vector<float>& values);

// FlickerBand: how far from 1 the whole picture's own random flicker moves the gain (a share):
// kFlickerBandK x 1.4826 x the median absolute deviation of the mean level's frame-to-frame steps
// around their median, over the last `frames`, taken before this frame's step joins them.
class FlickerBand {
public:
    explicit FlickerBand(int frames) : frames_(frames) {}
    void watch(double level);  // this frame's mean gray level (of the picture the gain is measured on)
    double band() const { return band_; }

private:
    int frames_;
    double band_ = 0.0;
    std::optional<double> last_;
    std::deque<double> steps_;
};

struct GainResult {
    bool global = false;   // a light switched (the brightness moved more than kMaxGain times)
    bool gained = false;   // `normal` and `clipped` are set; else the frame is used as it is
    cv::Mat normal;        // CV_32F, the frame at the reference's exposure (when gained)
    cv::Mat clipped;       // CV_8U 255 where pixels cannot be compared (when gained)
    bool moving = false;   // a gain cell is off by kLightMoved or more, beyond the flicker: the light is changing
};

// `gray` and `reference`: CV_32F, the same size. `flicker`: FlickerBand::band() (a cell it explains
// does not set `moving`).
GainResult normalise_gain(const cv::Mat& gray, const cv::Mat& reference, double flicker = 0.0);

// lighting.py's left_out: takes out of `clipped` (normalise_gain's, CV_8U) the pixels clipped in the
// background (`reference` >= kClipped), not clipped now (`gray`), that the frame at the background's
// exposure (`normal`) fell `margin` (the pixel threshold) or more under kClipped (something dark before
// the white), where after an opening by kSolid they make a piece holding kFallenShare of the frame or
// more of pixels `changed_mask` kept (a body, not a leaf over the sky), not touching the frame's edge,
// that do not have the shape of light (looks_like_light over the piece's box, `light_changed` as for a
// blob: not a curtain's edge).
void left_out(cv::Mat& clipped, const cv::Mat& gray, const cv::Mat& normal, const cv::Mat& reference,
              double margin, const cv::Mat& changed_mask, bool light_changed);

// True if the change inside `box` (detection-size pixels) has the shape of light.
bool looks_like_light(const cv::Mat& normal, const cv::Mat& reference, const cv::Mat& changed_mask,
                      const cv::Rect& box, bool light_changed);

// shading.py's faint_shading: the change inside `box` is smooth (looks_like_light's first step) and
// faint (its log ratio's departure under kFaint): a busy place's own shading (shading.hpp).
constexpr double kFaint = 0.25;  // FAINT
constexpr double kShadingSmooth = 0.10;  // SMOOTH: the shading's detail limit, tighter than kLightingRoughness
bool faint_shading(const cv::Mat& normal, const cv::Mat& reference, const cv::Mat& changed_mask,
                   const cv::Rect& box);

// swing.py's crept_faint, its first half: at least 16 changed pixels inside `box`, and the log ratio's
// departure over them under `limit` (SWING_FAINT).
bool faint_change(const cv::Mat& normal, const cv::Mat& reference, const cv::Mat& changed_mask, const cv::Rect& box,
                  double limit);

}  // namespace qc::lighting
