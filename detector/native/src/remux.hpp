// Passthrough recording's pieces (detector/pipeline/passthrough.py, detector/av_stream.py): the camera's own
// encoded packets, kept as FFmpeg references (no copy of their bytes, no decode), and a segment file they are
// remuxed into (no encode). An H.264 pre-roll back to its keyframe is a few hundred kB where the decoded
// pictures were 14 MB at 640x480, and remuxing costs next to nothing where libx264 took a core's third at 1080p.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct AVCodecParameters;
struct AVFormatContext;
struct AVPacket;
struct AVStream;

namespace qc {

// What a segment's MP4 header needs of a stream: its codec parameters (a copy, so segments can still be
// written after the source closed or reopened), its time base and rate. One per open of the source: a
// packet of another open never goes into the same file.
struct StreamParams {
    StreamParams(const AVCodecParameters* codecpar, int time_base_num, int time_base_den, double fps,
                 std::string codec);
    ~StreamParams();
    StreamParams(const StreamParams&) = delete;
    StreamParams& operator=(const StreamParams&) = delete;
    AVCodecParameters* codecpar = nullptr;
    int time_base_num, time_base_den;
    double fps;
    std::string codec;  // "h264" or "hevc": the segment header's codec
    int width, height;
    int nal_length = 0;  // the packets' NAL length prefix when they are written as Annex B (new sets in a file)
};

// One video packet as the camera sent it. `index` counts the packets taken from the source (a gap in it:
// packets lost on the way, or a reopen); `pts_ns` is when it is shown, on the frames' clock.
struct EncodedPacket {
    std::shared_ptr<AVPacket> packet;
    std::shared_ptr<const StreamParams> stream;
    int64_t pts_ns = 0, index = 0;
    bool keyframe = false;
};

// A reference to `packet`'s bytes and times (av_packet_ref: the bytes are shared, not copied).
std::shared_ptr<AVPacket> packet_ref(const AVPacket* packet);

// One MP4 file of packets, their times starting at zero (passthrough.py's Remuxer). Errors throw OsError
// (a full disk steps the disk ladder down, as the encoder's). A stream clock that jumps (back, or ahead of
// the wall clock by more than kDriftNs: a camera setting its clock; an MPEG-TS camera rebooting, its times
// back to 0 read as a 33-bit wrap) has its later packets moved by the jump: the file goes on one frame's
// step after a step back, with the wall clock's spacing (pts_ns) after a jump ahead: not one frame shown
// for hours, nor a segment ended mid-GOP.
class SegmentRemuxer {
public:
    SegmentRemuxer(const std::string& path, std::shared_ptr<const StreamParams> stream);
    ~SegmentRemuxer();
    SegmentRemuxer(const SegmentRemuxer&) = delete;
    SegmentRemuxer& operator=(const SegmentRemuxer&) = delete;

    // Whether `packet` continues this file: the same open of the stream (a clock that jumps is taken out).
    bool follows(const EncodedPacket& packet) const;
    void write(const EncodedPacket& packet);
    void close();
    const std::string& codec() const { return stream_->codec; }

private:
    void release();
    // The ticks the stream's clock jumped ahead of the wall clock since the last packet (0 under kDriftNs: a
    // stalled stream falls behind; slowing a fast clock moves it half a frame at most).
    int64_t jumped(int64_t pts, int64_t pts_ns);

    std::string path_;
    std::shared_ptr<const StreamParams> stream_;
    AVFormatContext* format_ = nullptr;
    AVStream* out_ = nullptr;
    AVPacket* scratch_ = nullptr;
    int64_t zero_ = INT64_MIN, last_dts_ = INT64_MIN, last_out_dts_ = -1;
    int64_t ahead_ns_ = INT64_MIN, shift_ = 0;  // the last packet's stream time less its wall time; ticks taken out
    int64_t step_ = 1;  // the last step between decode times, in ticks (one frame)
    bool closed_ = false;
};

// The bytes prefixing each NAL unit of the packets an avcC/hvcC header (`extradata`) goes with; 0 for Annex B
// (stream_parameters.py's nal_length_size).
int nal_length_size(const std::string& codec, const uint8_t* extradata, int size);

// A packet's NAL units without start codes or lengths (views into `data`): Annex B when `length_size` is 0, else
// each prefixed by its length in that many bytes (a file's). With `stop_codec`, up to its first picture.
std::vector<std::string_view> nal_units(const uint8_t* data, int size, int length_size,
                                        const std::string& stop_codec = "");

// The units, each after a 4-byte start code.
std::string annex_b(const std::vector<std::string_view>& units);

// The parameter sets (H.264's SPS and PPS, H.265's VPS too) a packet carries before its first picture, as
// Annex B; empty for none (stream_parameters.py's parameter_sets).
std::string parameter_sets(const std::string& codec, const uint8_t* data, int size, int length_size = 0);

// The parameter sets of a stream's header (avcC/hvcC, or Annex B), as Annex B (stream_parameters.py's
// extradata_sets).
std::string extradata_sets(const std::string& codec, const uint8_t* data, int size);

// The packet's NAL units but its parameter sets, as Annex B.
std::string pictures(const std::string& codec, const uint8_t* data, int size, int length_size);

// What a player is set up with for a stream's parameter sets: the size, pixel format and profile a picture
// decodes to with them (stream_parameters.py's meaning).
struct PictureMeaning {
    int width, height, format, profile;
    bool operator==(const PictureMeaning& o) const {
        return width == o.width && height == o.height && format == o.format && profile == o.profile;
    }
};

// `sets` then `picture` (both Annex B) decoded by a decoder of its own (once per change); none if it does not decode.
std::optional<PictureMeaning> picture_meaning(const StreamParams& stream, const std::string& sets,
                                              const std::string& picture);

// `now`'s stream from a keyframe whose parameter sets `sets` (Annex B) changed what its picture is (a camera set to
// another resolution): those in its MP4 header (avcC/hvcC), the size `meaning` says, and `nal_length` the
// packets' length prefix (a file's: they are written as Annex B, as the sets; 0 for a stream's Annex B), so the
// next segment's header says what its packets are (stream_parameters.py).
std::shared_ptr<const StreamParams> with_parameter_sets(const StreamParams& now, const std::string& sets,
                                                        const std::optional<PictureMeaning>& meaning, int nal_length);

// Whether a source's codec can be passed through into MP4 (av_stream.py's PASSTHROUGH_CODECS).
bool passes_through(const std::string& codec);

// The time between the first two keyframes of `keyframes` (one flag per packet, in decode order), counted
// in frames at `fps` (av_stream.py's probe_gop_ns); -1 when there is no second one in them.
int64_t probe_gop_ns(const std::vector<bool>& keyframes, double fps);

// Frames decoded right after a keyframe but shown before it (av_stream.py's probe_gop): an open GOP's leading
// pictures, predicted from the GOP before as well, so a segment cut at that keyframe could not decode them
// (it would play fewer frames than its header says). An H.265 IDR's leading pictures (RADL) need only the
// keyframe: those are fine. Fed every packet in decode order.
class LeadingWatch {
public:
    explicit LeadingWatch(std::string codec) : codec_(std::move(codec)) {}
    void see(const AVPacket& packet);
    bool open() const { return open_; }
    int keyframes_settled() const { return settled_; }  // keyframes whose leading pictures have all been seen

private:
    static constexpr int kLeadingMax = 16;  // av_stream.py's LEADING_MAX
    std::string codec_;
    int64_t key_pts_ = 0;
    int leading_ = 0, settled_ = 0;
    bool watching_ = false, open_ = false;
};

}  // namespace qc
