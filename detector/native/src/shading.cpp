#include "shading.hpp"

#include <algorithm>

#include "lighting.hpp"

namespace qc {

namespace {

bool overlap(const cv::Rect& a, const cv::Rect& b) {
    return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

// `inner` lies inside `outer` grown by kStillPx on each side.
bool within(const cv::Rect& inner, const cv::Rect& outer) {
    return inner.x >= outer.x - kStillPx && inner.y >= outer.y - kStillPx &&
           inner.x + inner.width <= outer.x + outer.width + kStillPx &&
           inner.y + inner.height <= outer.y + outer.height + kStillPx;
}

// One box lies inside the other: a patch that grew or shrank in place, not one that moved.
bool nested(const cv::Rect& a, const cv::Rect& b) { return within(a, b) || within(b, a); }

}  // namespace

std::vector<Shading> StillShading::judge(const std::vector<cv::Rect>& boxes, const std::vector<cv::Rect>& moving,
                                         const BusyMap& busy, const cv::Mat& normal, const cv::Mat& reference,
                                         const cv::Mat& changed_mask) {
    std::vector<Shading> verdicts;
    std::vector<Track> tracks;
    for (const cv::Rect& box : boxes) {
        std::vector<const Track*> before;
        for (const Track& t : tracks_)
            if (overlap(box, t.box)) before.push_back(&t);
        bool watched = before.size() || busy.score(box) >= kPersistScore;
        for (const cv::Rect& old : moving) watched = watched && !overlap(box, old);
        if (!watched || !lighting::faint_shading(normal, reference, changed_mask, box)) {
            verdicts.push_back(Shading::none);
            continue;
        }
        int count = 1;  // a first frame: held, whatever it does next
        if (!before.empty()) {
            bool still = std::any_of(before.begin(), before.end(), [&](const Track* t) { return nested(box, t->box); });
            if (!still) {
                verdicts.push_back(Shading::none);  // it moved: judged as any blob from now on
                continue;
            }
            for (const Track* t : before) count = std::max(count, 1 + t->still);
        }
        if (count >= kShadingFrames) {
            verdicts.push_back(Shading::shading);
        } else {
            verdicts.push_back(Shading::held);
            tracks.push_back(Track{box, count});
        }
    }
    tracks_ = std::move(tracks);
    return verdicts;
}

}  // namespace qc
