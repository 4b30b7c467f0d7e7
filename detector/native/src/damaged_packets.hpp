// Packets the decoder found damaged (detector/damaged_packets.py): a packet that did not decode, or
// decoded to a picture flagged corrupt (AV_FRAME_FLAG_CORRUPT, or FFmpeg 5's decode_error_flags). Counted
// since start (damaged_packets in the camera's status, read by the status thread), the first of a streak
// one warning naming the camera and what to check, its end one info line with the streak's count; while a
// streak is open the camera is degraded and its fault says since when and how much (fault()). A streak
// lasts while damaged packets come less than [camera] damaged_clear_s apart (10 s by default, footage
// time), so a stream damaged in every GOP is one warning, not one a second. Nothing is counted before the first keyframe after an open: a stream
// joined between keyframes is incomplete by design.
//
// A damaged picture is recorded, not analysed (not_analysed): the one flagged corrupt and every one decoded
// after a damaged packet up to the next clean keyframe (predicted from the broken one), at most
// damaged_clear_s after it; the capture loop neither compares it with the background nor learns it, and the event clock holds.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>

namespace qc {

class DamagedPackets {
public:
    DamagedPackets(std::string camera_id, int clear_s)
        : camera_id_(std::move(camera_id)), clear_s_(clear_s), clear_ns_(int64_t(clear_s) * 1'000'000'000) {}
    void opened();  // a new decoder
    // did not decode, or decoded flagged corrupt, at time_ns (footage)
    void damaged(int64_t time_ns, const char* what = "packet");
    // a picture decoded cleanly: a keyframe clear_s after the streak's last damaged packet ends it
    void decoded(bool keyframe, int64_t time_ns);
    // Whether the picture just decoded (flagged `corrupt` or not) must not be analysed; counted when so.
    bool not_analysed(bool corrupt, int64_t time_ns);
    int64_t count() const { return count_.load(); }  // since start
    std::string fault() const;  // the open streak in words, "" when none is open (the status thread)

private:
    std::string camera_id_;
    int clear_s_;  // a streak ends at a clean keyframe this long (footage time) after its last damaged packet
    int64_t clear_ns_;
    std::atomic<int64_t> count_{0};
    mutable std::mutex mutex_;  // the streak, read by the status thread
    int64_t streak_ = 0;
    int64_t first_ns_ = 0, last_ns_ = 0;  // the open streak's first and last damaged packet
    int64_t pictures_ = 0, streak_pictures_ = 0;  // pictures not analysed, since start and in the open streak
    bool keyed_ = false;
    bool broken_ = false;  // a damaged packet since the last clean keyframe: the pictures now inherit it
};

}  // namespace qc
