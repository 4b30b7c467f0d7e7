#include "usb_formats.hpp"

#include <fcntl.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/videodev2.h>
#include <sys/ioctl.h>
#endif

#include <algorithm>
#include <cstdlib>
#include <sstream>

namespace qc {

std::optional<std::vector<std::string>> usb_formats(const std::string& device) {
    if (const char* seam = std::getenv("QC_NATIVE_USB_FORMATS")) {
        std::vector<std::string> listed;
        std::istringstream text(seam);
        for (std::string code; std::getline(text, code, ',');)
            if (!code.empty()) listed.push_back(code);
        return listed;
    }
#ifdef __linux__
    int fd = ::open(device.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    v4l2_capability caps{};
    if (::ioctl(fd, VIDIOC_QUERYCAP, &caps) != 0) {
        ::close(fd);
        return std::nullopt;
    }
    std::vector<std::string> formats;
    for (unsigned index = 0; index < 64; ++index) {
        v4l2_fmtdesc desc{};
        desc.index = index, desc.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        if (::ioctl(fd, VIDIOC_ENUM_FMT, &desc) != 0) break;  // EINVAL: no more formats
        std::string code;
        for (int shift = 0; shift < 32; shift += 8) code += char((desc.pixelformat >> shift) & 0xFF);
        code.erase(code.find_last_not_of(std::string(" \0", 2)) + 1);
        formats.push_back(code);
    }
    ::close(fd);
    return formats;
#else
    (void)device;
    return std::nullopt;
#endif
}

std::string auto_input(const std::vector<std::string>& formats) {
    auto offers = [&](std::initializer_list<const char*> codes) {
        return std::any_of(formats.begin(), formats.end(), [&](const std::string& code) {
            return std::find(codes.begin(), codes.end(), code) != codes.end();
        });
    };
    if (offers({"H264"})) return "h264";
    if (offers({"MJPG", "JPEG"})) return "mjpeg";
    return formats.empty() ? "" : "raw";
}

}  // namespace qc
