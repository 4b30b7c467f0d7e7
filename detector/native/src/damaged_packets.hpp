// Packets the decoder found damaged (detector/damaged_packets.py): a packet that did not decode, or
// decoded to a picture flagged corrupt (AV_FRAME_FLAG_CORRUPT, or FFmpeg 5's decode_error_flags). Counted
// since start (damaged_packets in the camera's status, read by the status thread), the first of a streak
// one warning naming the camera and what to check, its end one info line with the streak's count. A streak
// lasts while damaged packets come less than 10 s apart (footage time), so a stream damaged in every GOP is
// one warning, not one a second. Nothing is counted before the first keyframe after an open: a stream
// joined between keyframes is incomplete by design.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>

namespace qc {

class DamagedPackets {
public:
    explicit DamagedPackets(std::string camera_id) : camera_id_(std::move(camera_id)) {}
    void opened() { keyed_ = false; }  // a new decoder
    // did not decode, or decoded flagged corrupt, at time_ns (footage)
    void damaged(int64_t time_ns, const char* what = "packet");
    // a picture decoded cleanly: a keyframe 10 s after the streak's last damaged packet ends it
    void decoded(bool keyframe, int64_t time_ns);
    int64_t count() const { return count_.load(); }  // since start

private:
    std::string camera_id_;
    std::atomic<int64_t> count_{0};
    int64_t streak_ = 0;
    int64_t first_ns_ = 0, last_ns_ = 0;  // the open streak's first and last damaged packet
    bool keyed_ = false;
};

}  // namespace qc
