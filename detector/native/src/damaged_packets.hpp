// Packets the decoder found damaged (detector/damaged_packets.py): a packet that did not decode, or
// decoded to a picture flagged corrupt (AV_FRAME_FLAG_CORRUPT). Counted since start (damaged_packets in
// the camera's status, read by the status thread), the first of a streak one warning naming the camera
// and what to check, the next clean keyframe one info line with the streak's count. Nothing is counted
// before the first keyframe after an open: a stream joined between keyframes is incomplete by design.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>

namespace qc {

class DamagedPackets {
public:
    explicit DamagedPackets(std::string camera_id) : camera_id_(std::move(camera_id)) {}
    void opened() { keyed_ = false; }                // a new decoder
    void damaged(const char* what = "packet");      // did not decode, or decoded flagged corrupt
    void decoded(bool keyframe);                     // a picture decoded cleanly: a keyframe ends the streak
    int64_t count() const { return count_.load(); }  // since start

private:
    std::string camera_id_;
    std::atomic<int64_t> count_{0};
    int64_t streak_ = 0;
    std::string since_;  // when the open streak began (local time), for the log
    bool keyed_ = false;
};

}  // namespace qc
