// JPEG snapshots through libjpeg(-turbo) directly, as OpenCV's imencode does (baseline,
// 4:2:0, the given quality): linking OpenCV's imgcodecs would map GDAL, GDCM, OpenEXR and
// a hundred more libraries into every detector for this one job.
#pragma once

#include <opencv2/core.hpp>
#include <string>

namespace qc {

// Throws std::runtime_error when libjpeg refuses.
std::string encode_jpeg(const cv::Mat& bgr, int quality);

}  // namespace qc
