#include "zones.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <opencv2/imgproc.hpp>

namespace qc {

namespace {

std::vector<std::vector<cv::Point>> pixels(const std::vector<ZonesConfig::Polygon>& polygons, int width, int height) {
    // zones.py's _pixels: round(x * (width - 1)), Python's round (half to even, as nearbyint does).
    std::vector<std::vector<cv::Point>> out;
    for (const auto& polygon : polygons) {
        std::vector<cv::Point> points;
        for (const auto& [x, y] : polygon)
            points.emplace_back(int(std::nearbyint(x * (width - 1))), int(std::nearbyint(y * (height - 1))));
        out.push_back(std::move(points));
    }
    return out;
}

// A mask image as gray levels, through OpenCV's imgcodecs in a module of its own
// (quickcam-native-imgcodecs.so, beside the binary): imgcodecs maps GDAL & co., memory a
// camera without a mask image never needs.
cv::Mat read_gray(const std::string& path) {
    using Reader = bool (*)(const char*, cv::Mat*);
    static std::mutex mutex;
    static Reader reader = nullptr;
    {
        std::lock_guard<std::mutex> lock(mutex);
        if (!reader) {
            std::error_code error;
            auto module_path = std::filesystem::read_symlink("/proc/self/exe", error).parent_path() /
                               "quickcam-native-imgcodecs.so";
            void* module = ::dlopen(module_path.c_str(), RTLD_NOW | RTLD_LOCAL);
            if (!module)
                throw ZoneError("zone mask image " + path + " cannot be read: the image module does not load (" +
                                std::string(::dlerror()) + "); rebuild with scripts/build_native.sh");
            reader = reinterpret_cast<Reader>(::dlsym(module, "quickcam_read_gray"));
            if (!reader) throw ZoneError("the image module " + module_path.string() + " is not this build's; rebuild it");
        }
    }
    cv::Mat image;
    if (!reader(path.c_str(), &image) || image.empty())
        throw ZoneError("zone mask image " + path + " cannot be read (missing, or not an image)");
    return image;
}

}  // namespace

cv::Mat build_zone_mask(const ZonesConfig& zones, int width, int height) {
    if (zones.empty()) return {};
    cv::Mat mask;
    if (!zones.include.empty()) {
        mask = cv::Mat::zeros(height, width, CV_8U);
        cv::fillPoly(mask, pixels(zones.include, width, height), cv::Scalar(255));
    } else {
        mask = cv::Mat(height, width, CV_8U, cv::Scalar(255));
    }
    if (!zones.exclude.empty()) cv::fillPoly(mask, pixels(zones.exclude, width, height), cv::Scalar(0));
    if (!zones.mask.empty()) {
        cv::Mat image;
        cv::resize(read_gray(zones.mask), image, cv::Size(width, height), 0, 0, cv::INTER_NEAREST);
        mask.setTo(0, image < 128);
    }
    if (cv::countNonZero(mask) == 0)
        throw ZoneError("the zones leave nothing of the picture to watch; check include/exclude/mask");
    return mask;
}

Zone zone_at(const cv::Mat& source, cv::Size size) {
    // base.py's _set_zone: nearest-neighbour to the detection size, then 255 where >= 128.
    Zone zone;
    if (source.empty()) {
        zone.area = double(size.area());
        return zone;
    }
    cv::Mat resized;
    cv::resize(source, resized, size, 0, 0, cv::INTER_NEAREST);
    cv::compare(resized, 128, zone.mask, cv::CMP_GE);
    zone.area = double(std::max(1, cv::countNonZero(zone.mask)));
    return zone;
}

}  // namespace qc
