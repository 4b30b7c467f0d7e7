#include "swing.hpp"

#include <algorithm>
#include <cmath>

#include "lighting.hpp"

namespace qc {

namespace {

bool overlap(const cv::Rect& a, const cv::Rect& b) {
    return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

}  // namespace

double fresh_share(const cv::Mat& normal, const cv::Mat& reference, const cv::Mat& previous,
                   const cv::Mat& changed_mask, const cv::Rect& box) {
    double size = 0, along = 0;
    for (int y = box.y; y < box.y + box.height; ++y) {
        const uchar* c = changed_mask.ptr<uchar>(y);
        const float* f = normal.ptr<float>(y);
        const float* r = reference.ptr<float>(y);
        const float* p = previous.ptr<float>(y);
        for (int x = box.x; x < box.x + box.width; ++x) {
            if (!c[x]) continue;
            double diff = double(f[x]) - double(r[x]), step = double(f[x]) - double(p[x]);
            size += std::abs(diff);
            along += (diff > 0 ? 1.0 : diff < 0 ? -1.0 : 0.0) * step;
        }
    }
    return size <= 0.0 ? 1.0 : along / size;
}

SwingOvershoot::SwingOvershoot(double fps) : hold_frames_(std::max(1, int(std::nearbyint(kSwingHoldS * fps)))) {}

std::vector<bool> SwingOvershoot::judge(const std::vector<cv::Rect>& boxes, const std::vector<cv::Rect>& moving,
                                        const BusyMap& busy, const cv::Mat& normal, const cv::Mat& reference,
                                        const cv::Mat& previous, const cv::Mat& changed_mask, int frames) {
    std::vector<bool> verdicts;
    std::vector<Held> watched;
    const bool before = !previous.empty() && previous.size() == normal.size();
    for (const cv::Rect& box : boxes) {
        int count = 0;
        for (const Held& h : held_)
            if (overlap(box, h.box)) count = std::max(count, h.frames);
        count += frames;
        bool watch = before;
        for (const cv::Rect& old : moving) watch = watch && !overlap(box, old);
        watch = watch && busy.score(box) >= kSwingScore &&
                lighting::faint_change(normal, reference, changed_mask, box, kSwingFaint) &&
                fresh_share(normal, reference, previous, changed_mask, box) < kSwingFresh;
        verdicts.push_back(watch && count <= hold_frames_);
        if (watch) watched.push_back(Held{box, count});  // past the hold too: it does not start a new one
    }
    held_ = std::move(watched);
    return verdicts;
}

std::vector<cv::Rect> SwingOvershoot::holding() const {
    std::vector<cv::Rect> boxes;
    for (const Held& h : held_)
        if (h.frames <= hold_frames_) boxes.push_back(h.box);
    return boxes;
}

}  // namespace qc
