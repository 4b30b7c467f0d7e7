// A video file or an RTSP/HTTP stream through FFmpeg's libraries (what OpenCV's FFmpeg back
// end does, without its BGR conversion and its decoding threads): frames come out as the
// decoder gives them, 4:2:0, so detection reads the luma plane and the pre-roll keeps half
// the bytes of BGR. A stream's frames are timed by its own clock put on the footage clock
// (stream_clock.hpp), from when its packets were sent: those FFmpeg read while it opened
// are read ahead at the open to tell when (read_burst).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "damaged_packets.hpp"
#include "full_decode.hpp"
#include "keyframe_gate.hpp"
#include "pacer.hpp"
#include "polled_input.hpp"
#include "sources.hpp"
#include "stop.hpp"
#include "stream_clock.hpp"

struct AVFormatContext;
struct AVCodecContext;
struct AVFrame;
struct AVPacket;
struct AVDictionary;
struct AVInputFormat;
struct SwsContext;

namespace qc {

// FFmpeg's own lines (a demuxer's, the encoder's errors) through qc::log's queue, those of decoders dropped:
// av_log's default fprintf to stderr blocked the thread that logged on a stderr nobody reads (FINDINGS #50).
void route_ffmpeg_log();

class AvSource : public FrameSource {
public:
    // What this source is for: the camera's one stream (decoded, and recorded by passthrough when it can be);
    // with a [camera] detect_path, its substream (decoded for detection only: its frames are recorded only when
    // path cannot be passed through) or its main stream (packets only, never decoded: read_packet()).
    enum class Role { Whole, Detect, Record };
    // `stop`: the detector's; a blocking open or read gives up as soon as it is set.
    explicit AvSource(const CameraConfig& config, Role role = Role::Whole, const Stop* stop = nullptr);
    ~AvSource() override;
    bool open() override;
    bool read(Frame& frame) override;
    void close() override;
    std::string name() const override;
    // Role::Record: the next packet of the stream, timed on the frames' clock (a file's own timeline, a stream's
    // clock); false when there is none now (lost: `ended` says a file's end).
    bool read_packet(EncodedPacket& out);
    const std::string& mode() const { return mode_; }  // passthrough or reencode ("" before the first open)
    const std::string& why() const { return why_; }    // why, in words
    std::atomic<bool> abort{false};  // a blocking read or open gives up at once (the camera stops)
    // idle_keyframes_only / event_keyframes_only: asked at each keyframe whether detection wants every frame
    // (keyframe_gate.hpp); while it does not, the GOP's other packets are handed on undecoded (Frame::undecoded).
    void every_frame_from(std::function<bool()> wanted) override { wanted_ = std::move(wanted); }
    bool full_picture(Frame& frame) override;  // fast_decode: the last frame read, decoded again in full
    int64_t damaged_packets() const override { return damaged_.count(); }
    std::string damaged_fault() const override { return damaged_.fault(); }

private:
    static int interrupt(void* opaque);  // FFmpeg's blocking calls give up past the deadline, or at the stop
    bool stopping() const { return abort || (stop_ && bool(*stop_)); }
    int read_frame(AVPacket* packet);
    void arm();
    bool decode_next();
    void read_burst();
    int next_packet();
    int64_t stream_ns(int64_t ticks) const;
    int64_t file_start_ns() const;
    int64_t timeline_ns(int64_t ticks);
    int64_t frame_time_ns(int64_t pts);
    bool rewind();
    void to_frame(Frame& frame, const AVFrame* decoded);
    void decode_fast();
    void end_passthrough(const std::string& why);
    std::string unfinished() const;
    void resume();
    bool given_before();
    bool keyframe() const;  // the picture just decoded is a keyframe
    void decide_mode();
    void keep_packet();
    // A keyframe whose in-band parameter sets changed: params_ becomes the stream's new ones, said once.
    void follow_parameters();
    void hand_packets(Frame& frame, int64_t shown);
    void gate_decoding();
    int64_t gop_length_ns(int64_t time_ns, int64_t packet_stream_ns) const;
    static const AVInputFormat* usb_demuxer(const CameraConfig& c, AVDictionary** options);
    void restamp(AVPacket* packet);
    void ask_for_keyframes();

    CameraConfig config_;
    Role role_;
    std::string path_;  // config_.path, or its detect_path for Role::Detect
    const Stop* stop_;
    std::unique_ptr<PolledInput> polled_;  // a FIFO or a device node, read through our own descriptor
    Pacer pacer_;
    AVFormatContext* format_ = nullptr;
    AVCodecContext* decoder_ = nullptr;
    AVFrame* decoded_ = nullptr;
    AVPacket* packet_ = nullptr;
    SwsContext* scaler_ = nullptr;
    std::vector<uint8_t> scaled_;  // the scaler's output, each plane padded (to_frame)
    int stream_ = -1;
    bool draining_ = false;
    int64_t deadline_ns_ = 0, index_ = 0;
    // A stream's reads since its last video packet met only others (audio): the deadline is not renewed for them,
    // so a video that stops while the rest goes on is lost as a silent stream is (av_source.py's _video_packets)
    bool other_only_ = false;
    std::string timed_out_why_;  // the interrupt ended a read at the deadline: why (given when the read fails)
    // A stream: the packets read ahead at its open, each with when it was handed over (footage ns), and the
    // read's code that ended the reading ahead (given when they have been taken); its clock.
    std::deque<std::pair<AVPacket*, int64_t>> ahead_;
    int ahead_code_ = 0;
    StreamClock clock_;
    int64_t opened_ns_ = 0;   // when the last open began
    int64_t packet_ns_ = 0;   // the last packet's time on the footage clock (0: none timed yet since the open)
    int64_t counted_ = 0, last_stamp_ = INT64_MIN;  // a USB H.264 camera's packets since the open, its last stamp
    bool keyframes_asked_ = false;  // a USB H.264 camera asked for its keyframe interval (once)
    int64_t first_ns_ = 0;    // the first timed packet read ahead at the open, on the footage clock (0: none)
    int64_t last_ns_ = 0;     // the last frame's time given
    int64_t given_ns_ = 0;    // the last frame's time handed on, whatever the source (damaged packets' times)
    int64_t opened_bytes_ = -1;  // a file's size when it last opened
    std::string read_error_;     // why the last read of a file failed before its end ("" when it did not)
    // A file reopened after a read error resumes (resume()): what this pass of it read and handed on, and
    // after a reopen what is decoded again only as references. INT64_MIN is AV_NOPTS_VALUE: none.
    int64_t taken_dts_ = INT64_MIN, shown_pts_ = INT64_MIN, skip_pts_ = INT64_MIN;
    int64_t shown_frames_ = 0, skip_frames_ = 0;
    bool corrupt_ = false;  // the picture just decoded is flagged corrupt
    // Passthrough (remux.hpp): how events are recorded, decided at the first open ("" before it); the stream's
    // parameters at this open; the packets read since the last frame handed on; the packets' count (a gap at
    // each open); the last keyframe packet's time (no keyframe for max_gop_s: re-encoded from then on).
    std::string mode_, why_;
    std::string own_mode_, own_why_;  // this stream's own packets could pass through, or why not (a substream's too)
    // A file analysed as fast as possible is on its own timeline (timeline_ns): its first frame at file_start_ns(),
    // the stream's time 0 there (this pass's anchor), each pass of a looped file after the one before.
    int64_t file_start_ns_ = INT64_MIN, anchor_ns_ = INT64_MIN, loop_offset_ns_ = 0;
    int64_t last_pts_ns_ = 0;  // Role::Record: the latest presentation time given
    int64_t timeline_last_ns_ = INT64_MIN;  // a file on its own timeline: the latest time given (never goes back)
    int steps_back_ = 0;  // times its own times stepped back by more than kStepBackNs (the first is a warning)
    static constexpr int64_t kStepBackNs = 1'000'000'000;  // less: B-frames' order (av_source.py's STEP_BACK_NS)
    bool gop_warned_ = false;
    std::unique_ptr<LeadingWatch> leading_;  // an open GOP seen while passing through ends passthrough
    std::shared_ptr<const StreamParams> params_;
    std::string parameter_sets_;  // the last ones seen, as Annex B (stream_parameters.py's ParameterWatch)
    int nal_length_ = 0;          // the packets' NAL length prefix (a file's avcC/hvcC); 0: Annex B
    std::vector<EncodedPacket> pending_;
    int64_t packet_index_ = 0, last_key_ns_ = 0;
    int64_t last_key_stream_ns_ = 0;  // ... on the stream's own clock: the shorter of the two GOPs counts
    DamagedPackets damaged_;  // counted since start, each streak said once (damaged_packets.hpp)
    std::function<bool()> wanted_;        // the camera's wants_every_frame (none: every frame)
    std::unique_ptr<KeyframeGate> gate_;  // keyframes only while detection allows it (none when it cannot apply)
    std::unique_ptr<FullDecode> full_;    // fast_decode: the current GOP's packets, for a snapshot's full decode
    bool fast_said_ = false;
    bool refusal_said_ = false;           // the one line saying why the keyframes-only options cannot apply
    bool undecoded_ = false;  // decode_next() gave a packet not decoded (its presentation time: undecoded_pts_)
    int64_t undecoded_pts_ = INT64_MIN;
};

}  // namespace qc
