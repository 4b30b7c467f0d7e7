// The view guard: a camera whose picture has become useless says so (a port of
// detector/pipeline/view_guard.py; its docstrings are the spec, its constants the same here).
// Fed detection's prepared gray (RunningAverageMotion::gray(), base.py's MotionDetector.gray)
// and times, four looks a second at a 64 x 48 copy; it says what changed, the camera logs,
// counts and reports it (camera.cpp). Three faults, each sustained before it is said
// (blocked: the picture lost its structure; moved: its detail no longer lines up with the
// long-term view, tile by tile; frozen: looks identical while frames keep coming, live sources only), and
// cleared once the view has been back for CLEAR_S.
#pragma once

#include <algorithm>
#include <cstdint>
#include <opencv2/core.hpp>
#include <optional>
#include <string>

namespace qc {

struct ViewFault {
    std::string kind;  // blocked, moved, frozen (docs/protocol.md: camera status `view`)
    int64_t since_ns = 0;  // when the condition began (it is said BLOCKED_S / MOVED_S / FROZEN_S later)
    std::string text;
};

// What one look changed: the fault that started, the fault that ended (each may be empty).
struct ViewChange {
    std::optional<ViewFault> started, ended;
};

class ViewGuard {
public:
    explicit ViewGuard(bool watch_frozen = true) : watch_frozen_(watch_frozen) {}
    // One detection picture (CV_32F, any size). keyframe: 1 or 0 when the decoder says whether
    // the frame was a keyframe, -1 when it does not.
    ViewChange look(const cv::Mat& gray, int64_t time_ns, int keyframe = -1);
    const std::optional<ViewFault>& fault() const { return fault_; }
    int64_t episodes() const { return episodes_; }  // faults said since start
    // When a blocked or moved condition (the faults that start an event) began, while one holds; 0 when none.
    int64_t suspect_since_ns() const {
        if (blocked_.since_ns && moved_.since_ns) return std::min(blocked_.since_ns, moved_.since_ns);
        return blocked_.since_ns ? blocked_.since_ns : moved_.since_ns;
    }
    double structure() const { return structure_; }  // the last look's
    double match() const { return match_; }  // the last look's match with the long-term view (tile by tile)

private:
    struct Watch {  // how long one condition has held
        int64_t since_ns = 0;  // 0: not holding
        double hold(bool holding, int64_t time_ns);
    };
    double watch_frozen_look(const cv::Mat& small, int64_t time_ns);
    std::optional<ViewFault> judge(double blocked_s, double moved_s, double frozen_s) const;
    ViewChange change(std::optional<ViewFault> fault);

    bool watch_frozen_;
    std::optional<ViewFault> fault_;
    int64_t episodes_ = 0;
    double structure_ = 0.0, match_ = 1.0, learnt_structure_ = 0.0;
    cv::Mat view_, previous_, small_, detail_;  // view_: the long-term high-pass picture
    int64_t first_ns_ = 0, next_ns_ = 0, last_ns_ = 0;
    Watch blocked_, moved_, frozen_, clear_;
    int64_t keyframes_ = -1;  // keyframes seen, once the source says which frames are (-1: it has not)
    int64_t keyframes_frozen_ = 0;  // the count when the freeze began
};

}  // namespace qc
