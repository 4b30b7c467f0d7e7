// What a USB camera offers, and what input_format = "auto" reads of it (v4l2.py's query and choose_input):
// H.264 when it is listed (recorded as it came), else MJPEG, else raw video (both through OpenCV's V4L2).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace qc {

// The device's pixel formats as V4L2 fourccs in its order ("YUYV", "H264", "MJPG"); nullopt when it cannot be
// asked (missing, busy, not a V4L2 device). QC_NATIVE_USB_FORMATS (a comma list; a test and debug seam only,
// as QC_NATIVE_USB_DEMUXER) stands in for the device's answer.
std::optional<std::vector<std::string>> usb_formats(const std::string& device);
// "h264", "mjpeg" or "raw": the best of `formats` (v4l2.py's PREFERENCE); "" when it offers none.
std::string auto_input(const std::vector<std::string>& formats);

}  // namespace qc
