// Keyframes only while detection does not need every frame (detector/idle_keyframes.py; docs/benchmarks.md 12d):
// [camera] idle_keyframes_only (while nothing moves) and event_keyframes_only (while an event's keyframes show
// motion). Decoding every frame is most of what watching a camera costs, and H.264 has no cheaper way to decode a
// frame in the middle of a GOP than to decode every frame before it; a keyframe decodes on its own.
//
// At each keyframe the camera is asked whether detection wants every frame (camera.cpp's wants_every_frame); if
// not, the GOP's other packets are not decoded (av_source.cpp hands each on undecoded: recorded, not analysed).
// When it wants every frame again mid-GOP, the packets skipped so far are decoded first, their pictures dropped
// (the decoder needs them as references), so every frame after is the normal decode. Recording never changes:
// every packet goes on as it came.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "config.hpp"

struct AVCodecContext;
struct AVFrame;
struct AVPacket;

namespace qc {

class KeyframeGate {
public:
    // `wanted`: whether detection wants every frame now; `damaged`: a packet caught up did not decode cleanly.
    KeyframeGate(std::function<bool()> wanted, std::function<void()> damaged);
    ~KeyframeGate();
    // True when `packet` is not decoded now (kept for a catch-up); decodes the GOP's skipped packets into `decoder`
    // first when every frame is wanted again in the middle of it.
    bool skip(const AVPacket* packet, bool keyframe, AVCodecContext* decoder);
    // Decodes the packets skipped so far (pictures dropped): the decoder is then where every frame would have left it.
    void catch_up(AVCodecContext* decoder);
    void clear();  // a new timeline (a reopen, a looped file's next pass): the packets kept decode no more
    size_t held() const { return held_.size(); }  // this GOP's packets not decoded yet

private:

    std::function<bool()> wanted_;
    std::function<void()> damaged_;
    bool sparse_ = false;  // this GOP: only its keyframe was decoded
    std::vector<AVPacket*> held_;  // this GOP's packets not decoded yet
    AVFrame* scratch_ = nullptr;   // the caught-up pictures, dropped
};

// What detection needs now (pipeline/detect.py's DetectStage.wants_every_frame), for KeyframeGate's `wanted`.
struct DetectionNeeds {
    bool dark = false;       // a person in the dark is found by averaging frames: every frame
    bool recording = false;  // an event runs (its onset snapshot is taken at its first frame here: detection is inline)
    bool moving = false;     // the last look showed motion
    bool pictures_recorded = false;  // the decoded pictures are what is recorded (re-encoded): every frame
};
// Every frame always in the dark and while pictures are recorded. While an event runs, keyframes only with
// event_keyframes_only while the last look showed motion (a quiet keyframe brings every frame back: the event's end
// and a person the motion core missed on a keyframe are looked for at the full rate; no face search natively, so
// none to confirm). While no event runs, keyframes only with idle_keyframes_only and no motion at the last look.
bool wants_every_frame(const CameraConfig& camera, const DetectionNeeds& now);

// Why idle_keyframes_only / event_keyframes_only cannot skip decoding on this source ("" when they can), for one
// log line (av_source.py's _keyframes_only_applies): a re-encoded camera encodes every frame of an event again,
// and a file analysed as fast as possible would run ahead of detection's "every frame again".
std::string keyframes_only_refusal(bool passthrough, const std::string& why_not_passthrough, bool live);

}  // namespace qc
