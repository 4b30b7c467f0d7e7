// Glints: a port of detector/motion/glints.py (same constants; its docstring is the spec). A few
// faint bright specks (sun or sky caught by ripples) in a busy place, or one round such speck
// anywhere (an insect in IR), may go on motion that runs but never start it.
#pragma once

#include <opencv2/core.hpp>

#include "activity.hpp"

namespace qc::glints {

constexpr double kGlintBright = 0.95;  // GLINT_BRIGHT
constexpr double kGlintFill = 0.27;    // GLINT_FILL
constexpr double kGlintPiece = 0.8;    // GLINT_PIECE
constexpr double kGlintExcess = 3.0;   // GLINT_EXCESS
constexpr int kGlintRegion = 16;           // GLINT_REGION
constexpr double kGlintRegionCap = 0.08;   // GLINT_REGION_CAP
constexpr double kGlintRegionBusy = 0.006; // GLINT_REGION_BUSY
constexpr int kSpeckRound = 1;             // SPECK_ROUND
constexpr int kBlobMargin = 2;             // BLOB_MARGIN
constexpr int kSnowSpecks = 30;            // SNOW_SPECKS

// `box` with the margin the frame's edge (of `changed`) cut off given back: a glint's fill is judged by
// its size (glints.py's uncut_size).
cv::Size uncut_size(const cv::Mat& changed, const cv::Rect& box);

// True if the place around `box` was busy before this frame, as a pond around its glints is.
bool on_water(const BusyMap& busy, const cv::Rect& box);

// True if the changed pixels (`changed`, CV_8U) in `box` are one 8-connected piece whose width and
// height differ by at most kSpeckRound pixels: an insect's speck, not a figure (upright or lying).
bool is_speck(const cv::Mat& changed, const cv::Rect& box);

// True if the changed pixels (`changed`, CV_8U) make kSnowSpecks separate 8-connected specks or
// more: flakes all over the picture (snow or dust in the light).
bool snowing(const cv::Mat& changed);

// True if at least kGlintBright of the changed pixels in `box` are brighter than `reference`: the
// change only adds light (a raindrop, a flake in the IR light).
bool adds_light(const cv::Mat& normal, const cv::Mat& reference, const cv::Mat& changed, const cv::Rect& box);

// True if the changed pixels (`changed`, CV_8U) in `box` are a few faint bright specks: nearly all
// brighter than `reference`, filling little of the box, most under kGlintExcess x `threshold` off
// it, and no 8-connected piece as large as kGlintPiece x `min_area`. `normal`, `reference`: CV_32F.
// faint false (snowing): the specks need not be faint.
bool is_glint(const cv::Mat& normal, const cv::Mat& reference, const cv::Mat& changed, const cv::Rect& box,
              double threshold, double min_area, bool faint = true);

}  // namespace qc::glints
