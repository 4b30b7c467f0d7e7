// A live camera that delivers well under the frame rate its source declares, for a sustained time, says so:
// detector/pipeline/delivery_rate.py's rule and words. The frames handed on in the last kWindowS seconds of the
// steady clock, under kSlowShare of the declared rate for kSlowAfterS in a row: degraded, with both rates.
// Not judged in dark mode, with keyframes-only decoding, for a file read as fast as possible, nor in the first
// kWindowS after an open (camera.cpp says when it applies).
#pragma once

#include <deque>
#include <mutex>
#include <string>

namespace qc {

class DeliveryRate {
public:
    static constexpr double kWindowS = 5.0;
    static constexpr double kSlowShare = 0.45;  // delivery_rate.py's SLOW_SHARE
    static constexpr double kSlowAfterS = 15.0;

    // One frame handed on at `now` (steady seconds); a gap longer than the window (a reopen) starts again.
    void delivered(double now);
    // The words for a sustained slow delivery ("" when there is none); `judged`: whether the rule applies now.
    std::string fault(double declared_fps, bool judged, double now);

private:
    std::mutex mutex_;  // the capture thread hands frames on, the status thread judges
    std::deque<double> arrivals_;
    double since_ = 0;
    double slow_since_ = -1;  // < 0: not slow
};

}  // namespace qc
