// Reading a zone mask image (zones.cpp) through OpenCV's imgcodecs, in a module of its own
// (quickcam-native-imgcodecs.so, beside the binary): imgcodecs maps GDAL and a dozen image
// libraries, memory that a detector whose cameras have no mask image never needs.
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgcodecs.hpp>

extern "C" bool quickcam_read_gray(const char* path, cv::Mat* out) {
    // OpenCV's own warning on a missing file would be a second line; zones.cpp names the file and the fix.
    auto level = cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
    try {
        *out = cv::imread(path, cv::IMREAD_GRAYSCALE);  // as zones.py's load_mask_image
    } catch (const cv::Exception&) {
        out->release();
    }
    cv::utils::logging::setLogLevel(level);
    return !out->empty();
}
