// Zones: which part of a camera's picture is watched, as detector/zones.py and base.py's
// _set_zone make them. A zone mask is 8-bit at the picture's size, 255 where motion counts and
// 0 where it is ignored: include polygons (none = the whole frame), minus exclude polygons, and
// an optional mask image (white = watched) on top. The motion core scales it to its detection
// size (zone_at) and drops changed pixels outside it (motion.cpp).
#pragma once

#include <opencv2/core.hpp>
#include <stdexcept>

#include "config.hpp"

namespace qc {

// A zone cannot be built (an unreadable mask image, zones that watch nothing).
class ZoneError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The watched area at width x height, or an empty Mat when the whole frame is watched.
cv::Mat build_zone_mask(const ZonesConfig& zones, int width, int height);

// The zone at the motion core's detection size: its mask (empty: the whole frame) and area in
// pixels, the denominator of the global change (the whole frame's area without a mask).
struct Zone {
    cv::Mat mask;
    double area = 0;
};
Zone zone_at(const cv::Mat& source, cv::Size size);

}  // namespace qc
