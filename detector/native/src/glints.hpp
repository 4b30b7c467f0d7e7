// Glints: a port of detector/motion/glints.py (same constants; its docstring is the spec). A few
// faint bright specks (sun or sky caught by ripples) may go on motion that runs but never start it.
#pragma once

#include <opencv2/core.hpp>

namespace qc::glints {

constexpr double kGlintBright = 0.95;  // GLINT_BRIGHT
constexpr double kGlintFill = 0.27;    // GLINT_FILL
constexpr double kGlintPiece = 0.8;    // GLINT_PIECE
constexpr double kGlintExcess = 3.0;   // GLINT_EXCESS

// True if the changed pixels (`changed`, CV_8U) in `box` are a few faint bright specks: nearly all
// brighter than `reference`, filling little of the box, most under kGlintExcess x `threshold` off
// it, and no 8-connected piece as large as kGlintPiece x `min_area`. `normal`, `reference`: CV_32F.
bool is_glint(const cv::Mat& normal, const cv::Mat& reference, const cv::Mat& changed, const cv::Rect& box,
              double threshold, double min_area);

}  // namespace qc::glints
