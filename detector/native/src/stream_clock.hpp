// A live stream's timestamps on the wall clock (detector/stream_clock.py, which is the spec):
// anchored when its packets were sent, kept near the wall clock, never going back.
//
// A camera stamps its packets with its own clock (RTP, MPEG-TS); the frames need the footage
// clock. FFmpeg's open of a stream reads its first ~2 s (the frame-rate probe's 20 frames, more
// over RTSP) and hands them over at once: stamped when they were read, every frame of the first
// seconds after each (re)open was ~2 s late. So av_source.cpp reads those packets ahead at the
// open (OpenBurst says when they all have been), each with when it was handed over, and
// opened_anchor() puts the stream's time 0 where
// they say (none can have been sent after it was handed over, nor the first before the open
// began). Each packet is checked against the footage clock as it is read (those read ahead,
// against when they were handed over: one behind it then is no news): a stream clock ahead of
// it by more than kAheadNs is slowed back half a frame a frame at most, one off by more than
// kDriftNs (or going back) is re-anchored at once, and no time comes before the latest given
// when it was last (re-)anchored.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace qc {

constexpr int64_t kDriftNs = 2'000'000'000;  // this far off the footage clock (or going back): re-anchored
constexpr int64_t kAheadNs = 500'000'000;    // ... ahead by more than this (a fast clock): slowed back
constexpr int64_t kSayEveryNs = 60'000'000'000;  // re-anchorings logged at most this often (the rest counted)
constexpr int kCaughtUpReads = 3;  // reads in a row at the stream's own pace: what FFmpeg held has been read

// The footage time of a stream's time 0 from the packets read ahead at its open, none without any.
// `handed`: each packet's (stream ns, footage ns it was handed over), in decode order.
std::optional<int64_t> opened_anchor(const std::vector<std::pair<int64_t, int64_t>>& handed, int64_t opened_ns);

// Reading ahead what FFmpeg held when a stream's open returned: when it has all been read (stream_clock.py's
// OpenBurst). A held packet comes at once: handed over minus stream time is less than for any before it, by
// about a frame; one that comes as it is sent, by nothing. After kCaughtUpReads of those in a row (one read
// slowed by a busy machine is not enough), or once the packets read span as much of the stream as the open
// took (it cannot have held more), the held ones have all been read.
class OpenBurst {
public:
    OpenBurst(int64_t opened_ns, int64_t now_ns, int64_t frame_ns)
        : opening_ns_(now_ns - opened_ns), frame_ns_(frame_ns) {}
    // Note a packet read (`stream_ns` none: one without a time); true when no more should be read.
    bool over(std::optional<int64_t> stream_ns, int64_t handed_ns);

private:
    int64_t opening_ns_, frame_ns_;
    std::optional<int64_t> first_ns_, least_ns_;  // the first timed packet's stream time, the least (handed - stream)
    int caught_up_ = 0;                           // reads in a row that came at the stream's pace
};

class StreamClock {
public:
    explicit StreamClock(std::string camera_id) : camera_id_(std::move(camera_id)) {}
    // A reopened stream, whose times start again: anchored at `anchor_ns`, else at its first packet;
    // an anchor given comes with a floor, `latest_ns` (the latest time given before): none before it.
    void restart(std::optional<int64_t> anchor_ns = std::nullopt, int64_t latest_ns = 0);
    // `stream_ns` on the footage clock; `latest_ns`: the latest time given so far. `arrived`: the decode
    // time of a packet that arrived just now (`now_ns`, else the footage clock), checked against it;
    // `held`: one read ahead at the open, handed over (`now_ns`) after it arrived: behind is no news.
    int64_t wall_ns(int64_t stream_ns, int64_t latest_ns, int64_t frame_ns, bool arrived = false,
                    std::optional<int64_t> now_ns = std::nullopt, bool held = false);

private:
    std::string camera_id_;
    std::optional<int64_t> anchor_ns_;   // the footage time of the stream's time 0
    int64_t floor_ns_ = 0;               // the latest time given when last (re-)anchored
    std::optional<int64_t> arrived_ns_;  // the last packet's decode time: one before it is a jump back
    std::optional<int64_t> said_ns_;     // when a re-anchoring was last logged
    int64_t unsaid_ = 0;                 // re-anchorings since, not logged
};

}  // namespace qc
