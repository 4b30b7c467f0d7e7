#include "motion_trace.hpp"

#include <cstdio>
#include <iostream>
#include <vector>

#include "motion.hpp"
#include "view_guard.hpp"
#include "zones.hpp"

namespace qc {

int run_motion_trace(const MotionConfig& config, const ZonesConfig& zones, const std::string& size, double fps,
                     bool video_range, int every) {
    int width = 0, height = 0;
    if (std::sscanf(size.c_str(), "%dx%d", &width, &height) != 2 || width < 8 || height < 8 || width > 7680 ||
        height > 4320) {
        std::cerr << "quickcam-native-detector: --motion-trace needs WIDTHxHEIGHT (e.g. 384x288), got " << size << "\n";
        return 2;
    }
    RunningAverageMotion motion(config, fps);
    try {
        motion.watch(build_zone_mask(zones, width, height));
    } catch (const ZoneError& e) {
        std::cerr << "quickcam-native-detector: " << e.what() << "\n";
        return 2;
    }
    ViewGuard guard;  // frozen watched too (a trace is fed like a live source), no keyframes said
    cv::Mat frame(height, width, CV_8U);
    const size_t bytes = size_t(width) * size_t(height);
    // One line per frame: motion area global_change lighting_blobs dark noise threshold brightness, then the
    // view guard's verdict on the same picture (ok, blocked, moved, frozen), its structure and match. Frame n is
    // at 1 s + n x every / fps (the guard's clock: 0 means "never").
    std::printf("# motion area global lighting dark noise threshold brightness view structure match\n");
    for (int64_t n = 0; std::fread(frame.data, 1, bytes, stdin) == bytes; ++n) {
        MotionResult r = motion.detect(frame, video_range, n ? every : 1);
        guard.look(motion.gray(), 1000000000 + int64_t(double(n * every) * 1e9 / fps));
        std::printf("%d %.6f %d %d %d %.4f %.4f %.4f %s %.5f %.4f\n", int(r.motion), r.area_fraction,
                    int(r.global_change), r.lighting_blobs, int(r.dark), r.noise, r.threshold, r.brightness,
                    guard.fault() ? guard.fault()->kind.c_str() : "ok", guard.structure(), guard.match());
    }
    std::fflush(stdout);
    return 0;
}

}  // namespace qc
