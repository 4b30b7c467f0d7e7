// Snapshots at full quality when detection decodes cheaply ([camera] fast_decode; detector/redecode.py).
//
// With fast_decode the decoder that feeds detection skips H.264/H.265's deblocking filter (10-20 % less decoding,
// docs/benchmarks.md 12d): a picture that drifts a little from the camera's with every frame until the next
// keyframe, far under a gray level at detection's 160 pixels. A snapshot is what a person looks at, so its frame is
// decoded again here, properly: the packets of its GOP, from its keyframe, in a second decoder with the default
// settings. Detection runs in the capture thread, so a snapshot is always of the frame just read: only the current
// GOP is kept (a GOP of packet references; at most a GOP of decoding per snapshot, at most 6 an event).
#pragma once

#include <cstdint>
#include <vector>

struct AVCodecParameters;
struct AVFrame;
struct AVPacket;

namespace qc {

class FullDecode {
public:
    explicit FullDecode(const AVCodecParameters* stream);
    ~FullDecode();
    FullDecode(const FullDecode&) = delete;
    FullDecode& operator=(const FullDecode&) = delete;
    void add(const AVPacket* packet, bool keyframe);  // every packet of the stream, in decode order
    void clear();  // a new timeline: the packets kept decode no more
    // The picture shown at `pts`, decoded in full from its GOP into `out`; false if its packets are not all here
    // (the stream opened in its GOP) or they do not decode: the caller keeps the cheap picture.
    bool picture(int64_t pts, AVFrame* out) const;

private:
    AVCodecParameters* stream_ = nullptr;
    std::vector<AVPacket*> gop_;  // from the last keyframe
};

}  // namespace qc
