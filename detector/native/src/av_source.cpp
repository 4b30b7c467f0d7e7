#include "av_source.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/videodev2.h>
#include <sys/ioctl.h>
#endif

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libswscale/swscale.h>
}

#include "logging.hpp"
#include "remux.hpp"

namespace qc {

namespace {
constexpr int kNoFrameYetMs = 10;  // a device opened non-blocking with no frame yet: looked at again after this
constexpr double kBurstMaxS = 10;  // a stream's packets read ahead at its open: at most this long (FFmpeg probes 5 s)

// FFmpeg's own lines from decoders are dropped whatever the global level (encoder.cpp raises it to errors for the
// encoder's): a damaged stream made them a flood of raw "[h264 @ 0x…] error while decoding MB" lines on stderr, one
// per macroblock, out of the log's format. Those packets are counted and said once a streak (damaged_packets.hpp).
void without_decoder_lines(void* context, int level, const char* format, va_list args) {
    const AVClass* kind = context ? *static_cast<const AVClass* const*>(context) : nullptr;
    if (kind && (kind->get_category ? kind->get_category(context) : kind->category) == AV_CLASS_CATEGORY_DECODER)
        return;
    if (level > av_log_get_level()) return;
    // Through the log's queue, not av_log_default_callback's fprintf: a stderr nobody reads blocked the thread
    // that logged (a capture or recording thread: the camera blind; FINDINGS #50), and the line kept its format.
    char line[1024];
    int prefix = 1;
    av_log_format_line2(context, level, format, args, line, sizeof line, &prefix);
    std::string text(line);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    if (text.empty()) return;
    log::write(level <= AV_LOG_ERROR ? log::Level::Error : log::Level::Warning, "ffmpeg: " + text);
}

// A setting's value as Python's "%g" writes it (max_gop_s = 10, not 10.000000).
std::string number_text(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", value);
    return text;
}

// A creation_time tag as Python's datetime.fromisoformat reads it ("2026-11-25T21:14:03.000000Z", a space for
// the T, an offset or none: local time); nullopt for anything else.
std::optional<int64_t> iso_time_ns(const char* text) {
    std::tm fields {};
    int consumed = 0;
    if (std::sscanf(text, "%4d-%2d-%2d%*1[T ]%2d:%2d:%2d%n", &fields.tm_year, &fields.tm_mon, &fields.tm_mday,
                    &fields.tm_hour, &fields.tm_min, &fields.tm_sec, &consumed) != 6)
        return std::nullopt;
    const char* rest = text + consumed;
    int64_t fraction_ns = 0;
    if (*rest == '.') {
        int64_t scale = 100'000'000;
        for (++rest; std::isdigit(static_cast<unsigned char>(*rest)); ++rest, scale /= 10)
            fraction_ns += (*rest - '0') * scale;
    }
    fields.tm_year -= 1900, fields.tm_mon -= 1;
    std::time_t seconds;
    if (*rest == '\0') {  // no offset: local time
        fields.tm_isdst = -1;
        seconds = std::mktime(&fields);
    } else {
        int offset_s = 0, hours = 0, minutes = 0;
        if (*rest == 'Z' && rest[1] == '\0') {
        } else if ((*rest == '+' || *rest == '-') && (std::sscanf(rest + 1, "%2d:%2d", &hours, &minutes) == 2 ||
                                                       std::sscanf(rest + 1, "%2d%2d", &hours, &minutes) == 2)) {
            offset_s = (*rest == '-' ? -1 : 1) * (hours * 3600 + minutes * 60);
        } else {
            return std::nullopt;
        }
        seconds = ::timegm(&fields) - offset_s;
    }
    if (seconds == std::time_t(-1)) return std::nullopt;
    return int64_t(seconds) * 1'000'000'000 + fraction_ns;
}

int64_t steady_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

void route_ffmpeg_log() { av_log_set_callback(&without_decoder_lines); }

AvSource::AvSource(const CameraConfig& config, Role role, const Stop* stop)
    : config_(config), role_(role), path_(role == Role::Detect ? config.detect_path : config.path), stop_(stop),
      pacer_(config.fps, stop),
      clock_(config.id), damaged_(config.id, config.damaged_clear_s) {
    fps = config.fps, width = config.width, height = config.height;
    live = config.source == "stream" || config.realtime;
}

AvSource::~AvSource() { close(); }

std::string AvSource::name() const { return redacted(path_); }

int AvSource::interrupt(void* opaque) {
    auto* self = static_cast<AvSource*>(opaque);
    if (self->stopping()) return 1;
    if (self->deadline_ns_ <= 0 || steady_ns() <= self->deadline_ns_) return 0;
    // Why, said when the read fails (read_frame): it may first give the packet its parser held (the stream's last)
    if (self->timed_out_why_.empty())
        self->timed_out_why_ = self->other_only_
            ? "no video for " + std::to_string(self->config_.stream_timeout_s) +
                  " s while the stream sends other data (audio?)"
            : "no video packet for " + std::to_string(self->config_.stream_timeout_s) +
                  " s (the stream stopped, or sends nothing readable)";
    return 1;
}

// av_read_frame, waiting out a device opened non-blocking (v4l2: its driver's wait for a frame never asks the
// interrupt callback) in kNoFrameYetMs sleeps, as FFmpeg's own command line does, until the interrupt says.
int AvSource::read_frame(AVPacket* packet) {
    // The read before passed the deadline and still gave a packet (the one its parser held: an RTSP stream's
    // last frame): this one fails at once. Armed again, it waited a second stream_timeout_s (lost after 20 s).
    if (!timed_out_why_.empty() && !stopping()) {
        lost_why = timed_out_why_;
        return AVERROR_EXIT;
    }
    int code;
    while ((code = av_read_frame(format_, packet)) == AVERROR(EAGAIN)) {
        if (interrupt(this)) return AVERROR_EXIT;
        std::this_thread::sleep_for(std::chrono::milliseconds(kNoFrameYetMs));
    }
    // A read past the deadline (only other packets since the last video one, or nothing at all) fails, maybe after
    // the demuxer's last held video packet, and the reads after it at once: av_source.py's words for why
    if (code < 0 && !timed_out_why_.empty() && !stopping()) lost_why = timed_out_why_;
    if (code >= 0) other_only_ = packet->stream_index != stream_;
    return code;
}

void AvSource::arm() {
    // fail fast instead of hanging on a dead stream: [camera] stream_timeout_s (av_source.py's)
    if (!other_only_)
        deadline_ns_ = config_.source == "stream" ? steady_ns() + config_.stream_timeout_s * 1'000'000'000LL : 0;
}

bool AvSource::open() {
    close();
    lost_why.clear(), timed_out_why_.clear();
    const auto& c = config_;
    // The error_code overload: the throwing one threw a path too long for the kernel (ENAMETOOLONG) as
    // filesystem_error, said as its words instead of the cannot-open text with the fix (camera.cpp open_failure).
    std::error_code unusable;
    if (c.source == "file" && !std::filesystem::is_regular_file(path_, unusable)) return false;
    opened_ns_ = footage_ns();
    av_log_set_level(AV_LOG_QUIET);
    route_ffmpeg_log();
    format_ = avformat_alloc_context();
    if (!format_) return false;
    format_->interrupt_callback = {&AvSource::interrupt, this};
    arm();
    // RTSP over TCP, as the Python detector (and OpenCV) ask: no lost packets; and its video only: a camera's
    // audio track kept the connection reading after its video stopped, so no read timed out (never reopened)
    AVDictionary* options = nullptr;
    if (path_.rfind("rtsp", 0) == 0) {
        av_dict_set(&options, "rtsp_transport", "tcp", 0);
        av_dict_set(&options, "allowed_media_types", "video", 0);
    }
    const AVInputFormat* input = nullptr;  // a USB H.264 camera's (sources.cpp's usb_h264), else found from the path
    if (!c.demuxer.empty() && !(input = usb_demuxer(c, &options))) {
        avformat_free_context(format_);
        format_ = nullptr;
        return false;
    }
    counted_ = 0, last_stamp_ = AV_NOPTS_VALUE;
    if (c.demuxer == "v4l2" && !std::exchange(keyframes_asked_, true)) ask_for_keyframes();
    // Nothing here may block past the stop (and a stream's timeout): a device's driver waits for a frame without
    // asking the interrupt callback, so v4l2 is opened non-blocking (read_frame); a FIFO or a device node that
    // the file protocol would open and read with blocking calls is read through a polled descriptor instead.
    if (c.demuxer == "v4l2") format_->flags |= AVFMT_FLAG_NONBLOCK;
    else if (PolledInput::wanted(path_)) {
        if (!(polled_ = PolledInput::open(path_, format_->interrupt_callback))) {
            av_dict_free(&options);
            avformat_free_context(format_);
            format_ = nullptr;
            return false;
        }
        format_->pb = polled_->context();
        format_->flags |= AVFMT_FLAG_CUSTOM_IO;
    }
    int code = avformat_open_input(&format_, path_.c_str(), input, &options);
    av_dict_free(&options);
    if (code < 0) {
        format_ = nullptr;  // freed by avformat_open_input on failure (not our own descriptor's context)
        polled_.reset();
        return false;
    }
    const AVCodec* codec = nullptr;
    // Cut short by the timeout, it may say it found a stream it knows nothing of (a FIFO with no writer: 0x0)
    if (avformat_find_stream_info(format_, nullptr) < 0 || stopping() ||
        (stream_ = av_find_best_stream(format_, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0)) < 0 || !codec ||
        (interrupt(this) && format_->streams[stream_]->codecpar->width <= 0)) {
        close();
        return false;
    }
    AVStream* stream = format_->streams[stream_];
    decoder_ = avcodec_alloc_context3(codec);
    if (!decoder_ || avcodec_parameters_to_context(decoder_, stream->codecpar) < 0) { close(); return false; }
    decoder_->thread_count = 1;  // one camera is one core's small share: threads only add buffers
    if (avcodec_open2(decoder_, codec, nullptr) < 0) { close(); return false; }
    decoded_ = av_frame_alloc();
    packet_ = av_packet_alloc();
    if (!decoded_ || !packet_) { close(); return false; }
    AVRational rate = av_guess_frame_rate(format_, stream, nullptr);
    double guessed = rate.num > 0 && rate.den > 0 ? av_q2d(rate) : 0;
    fps = guessed >= 1 && guessed <= 120 ? guessed : c.fps;
    width = decoder_->width & ~1, height = decoder_->height & ~1;
    draining_ = false;
    read_error_.clear();
    if (c.source == "file" && c.realtime) pacer_ = Pacer(fps, stop_);
    if (c.source == "file" && !c.realtime && file_start_ns_ == INT64_MIN) file_start_ns_ = file_start_ns();
    anchor_ns_ = INT64_MIN;
    opened_bytes_ = c.source == "file" ? avio_size(format_->pb) : -1;  // a smaller one at the end was cut short
    log::info("camera ", c.id, ": opened ", name(), " (FFMPEG back end) at ", width, "x", height, " ", fps, " fps");
    damaged_.opened();
    if (c.source == "file" && taken_dts_ != AV_NOPTS_VALUE) resume();
    timed_out_why_.clear();  // an open cut short that found the video: its reads get their own stream_timeout_s
    if (c.source == "stream") read_burst();
    if (stopping()) {  // the stop came while it read ahead
        close();
        return false;
    }
    std::string codec_name = avcodec_get_name(stream->codecpar->codec_id);
    params_.reset();
    if (passes_through(codec_name))
        params_ = std::make_shared<const StreamParams>(stream->codecpar, stream->time_base.num, stream->time_base.den,
                                                       fps, codec_name);
    parameter_sets_ = params_ ? extradata_sets(codec_name, stream->codecpar->extradata, stream->codecpar->extradata_size)
                              : std::string();
    nal_length_ = nal_length_size(codec_name, stream->codecpar->extradata, stream->codecpar->extradata_size);
    pending_.clear();
    ++packet_index_;  // a reopen: no segment goes on over it (a gap), the next one starts at a keyframe
    last_key_ns_ = 0;
    if (mode_.empty()) decide_mode();
    gate_decoding();
    decode_fast();
    timed_out_why_.clear();  // a timeout while it opened is its lost_why already (read_burst): not a later read's
    return true;
}

namespace {
const char* const kOpenGopWhy =
    "its keyframes start open GOPs (frames after a keyframe are shown before it and need the GOP before: segments "
    "cut there would lose them; set the camera to closed GOPs, or IDR keyframes)";
}  // namespace

// fast_decode at this open (av_source.py's open): detection's decoder skips the deblocking filter, only for a
// stream whose own packets pass through (never for frames re-encoded); snapshots are decoded again in full.
void AvSource::decode_fast() {
    full_.reset();
    if (!config_.fast_decode || own_mode_ != "passthrough" || !params_) return;
    decoder_->skip_loop_filter = AVDISCARD_ALL;  // read at each slice: takes effect on an open decoder
    full_ = std::make_unique<FullDecode>(format_->streams[stream_]->codecpar);
    if (!std::exchange(fast_said_, true))
        log::info("camera ", config_.id, ": fast decoding for detection (snapshots decoded in full)");
}

bool AvSource::full_picture(Frame& frame) {
    if (!full_ || !decoder_ || shown_pts_ == AV_NOPTS_VALUE) return false;
    AVFrame* picture = av_frame_alloc();
    bool found = picture && full_->picture(shown_pts_, picture);
    if (found) to_frame(frame, picture);
    av_frame_free(&picture);
    return found;
}

// idle_keyframes_only / event_keyframes_only at this open (av_source.py's _keyframes_only_applies): only for a live
// source whose own packets pass through (a substream beside path: its own, as if it were recorded), else one line
// says why they are ignored.
void AvSource::gate_decoding() {
    gate_.reset();
    const auto& c = config_;
    if (!(c.idle_keyframes_only || c.event_keyframes_only) || !wanted_) return;
    std::string asked = c.idle_keyframes_only && c.event_keyframes_only ? "idle_keyframes_only and event_keyframes_only"
                        : c.idle_keyframes_only ? "idle_keyframes_only" : "event_keyframes_only";
    std::string refusal = keyframes_only_refusal(own_mode_ == "passthrough", own_why_, live);
    if (!refusal.empty()) {
        if (!std::exchange(refusal_said_, true))
            log::info("camera ", c.id, ": ", asked, " ignored: ", refusal, "; every frame is decoded");
        return;
    }
    gate_ = std::make_unique<KeyframeGate>(wanted_, [this] { damaged_.damaged(given_ns_); });
    if (!std::exchange(refusal_said_, true)) {
        std::string when = c.idle_keyframes_only && c.event_keyframes_only ? "while idle and while an event records"
                           : c.idle_keyframes_only ? "while idle" : "while an event records";
        log::info("camera ", c.id, ": decoding keyframes only ", when, " (", role_ == Role::Detect ? "the detection "
                  "stream" : "every packet recorded", "; every frame whenever detection wants it)");
    }
}

// How events are recorded, once at the first open (av_stream.py's decide_mode), in one log line saying why:
// passthrough for a codec an MP4 carries with keyframes within max_gop_s (counted in the packets a stream's
// open read ahead; a file's first ones are read ahead here for it), else re-encoding.
void AvSource::decide_mode() {
    std::string why;
    if (config_.record == "reencode") {
        mode_ = "reencode", why = "[camera] record = \"reencode\"";
    } else if (!params_) {
        mode_ = "reencode",
        why = std::string("its codec ") + avcodec_get_name(format_->streams[stream_]->codecpar->codec_id) +
              " cannot be passed through into MP4";
    } else {
        size_t limit = size_t(std::lround(config_.max_gop_s * fps)), first = SIZE_MAX;
        std::vector<bool> keys;
        LeadingWatch leading(params_->codec);  // past the second keyframe: its leading pictures, if any
        // Only a stream with B-frames can have leading frames; in another, a time going back a little is jitter
        const bool reorders = format_->streams[stream_]->codecpar->video_delay > 0;
        auto probed = [&] {
            if (first != SIZE_MAX && keys.size() - first > limit) return true;
            return probe_gop_ns(keys, fps) >= 0 && (!reorders || leading.keyframes_settled() >= 2 || leading.open());
        };
        for (auto& [packet, at] : ahead_) {
            keys.push_back((packet->flags & AV_PKT_FLAG_KEY) != 0);
            if (reorders) leading.see(*packet);
            if (keys.back() && first == SIZE_MAX) first = keys.size() - 1;
        }
        bool ended = config_.source != "file";  // a stream's burst is what there is; the watch in read() does the rest
        while (!ended && !probed() && keys.size() < limit * 2 + 2) {
            AVPacket* packet = av_packet_alloc();
            int code = packet ? av_read_frame(format_, packet) : AVERROR(ENOMEM);
            if (code < 0) {
                av_packet_free(&packet);
                ahead_code_ = code, ended = true;
                break;
            }
            if (packet->stream_index != stream_ || packet->size == 0) { av_packet_free(&packet); continue; }
            ahead_.emplace_back(packet, 0);
            keys.push_back((packet->flags & AV_PKT_FLAG_KEY) != 0);
            if (reorders) leading.see(*packet);
            if (keys.back() && first == SIZE_MAX) first = keys.size() - 1;
        }
        int64_t gop = probe_gop_ns(keys, fps);
        if (gop < 0 && first != SIZE_MAX && keys.size() > 1 && config_.source == "file" && ahead_code_ == AVERROR_EOF)
            gop = 0;  // a short file: one GOP
        std::string codec = params_->codec;
        char text[160];
        if (leading.open()) {
            mode_ = "reencode", why = kOpenGopWhy;
        } else if (gop > int64_t(config_.max_gop_s * 1e9) || (gop < 0 && config_.source == "file")) {
            if (gop < 0) std::snprintf(text, sizeof text, "no second keyframe");
            else std::snprintf(text, sizeof text, "keyframes %.1f s apart", double(gop) / 1e9);
            mode_ = "reencode";
            why = std::string(text) + " within max_gop_s = " + number_text(config_.max_gop_s) +
                  " s (raise it, or set the camera's keyframe interval lower)";
        } else {
            mode_ = "passthrough";
            if (gop < 0) why = codec + ", no second keyframe yet in the open's first packets";
            else std::snprintf(text, sizeof text, "%s, keyframes every %.1f s", codec.c_str(), double(gop) / 1e9),
                 why = text;
        }
    }
    why_ = why;
    own_mode_ = mode_, own_why_ = why_;
    if (role_ == Role::Detect) {  // its frames are recorded only when path cannot be passed through (recorded_stream.hpp)
        mode_ = "reencode";
        return;
    }
    if (role_ == Role::Record) return;  // said by the recorded stream's loop (recorded_stream.cpp)
    if (mode_ == "reencode" && config_.record != "reencode")
        log::warning("camera ", config_.id, ": re-encoding instead of passing the camera's video through: ", why);
    else
        log::info("camera ", config_.id, ": recording by ", mode_, " (", why, ")");
}

// A packet of the video stream, kept for passthrough until the next frame is handed on (hand_packets).
void AvSource::keep_packet() {
    if (mode_ != "passthrough" || !params_) return;
    follow_parameters();
    pending_.push_back({packet_ref(packet_), params_, 0, packet_index_++, (packet_->flags & AV_PKT_FLAG_KEY) != 0});
}

void AvSource::follow_parameters() {
    if (!params_ || !(packet_->flags & AV_PKT_FLAG_KEY)) return;
    const std::string& codec = params_->codec;
    size_t side_size = 0;
    const uint8_t* side = av_packet_get_side_data(packet_, AV_PKT_DATA_NEW_EXTRADATA, &side_size);
    std::string sets = side ? extradata_sets(codec, side, int(side_size)) : std::string();
    if (sets.empty()) sets = parameter_sets(codec, packet_->data, packet_->size, nal_length_);
    if (sets.empty() || sets == parameter_sets_) return;
    std::string last = std::move(parameter_sets_);
    parameter_sets_ = sets;
    if (last.empty()) return;  // the first seen, the open's unknown: the same
    std::string picture = pictures(codec, packet_->data, packet_->size, nal_length_);
    auto now = picture_meaning(*params_, sets, picture);
    if (now && now == picture_meaning(*params_, last, picture)) return;  // other bytes (VUI, level), the same picture
    auto next = with_parameter_sets(*params_, sets, now, nal_length_);
    log::info("camera ", config_.id, ": the stream's parameters changed at a keyframe (", params_->width, "x",
              params_->height, " to ", next->width, "x", next->height, "): a new segment from here");
    params_ = std::move(next);
}

// How long since the last keyframe (av_source.py's _watch_keyframes): the shorter of the frames' clock and the
// stream's own, so that a stall (no packet for seconds, then the rest of the GOP) is not a long GOP, nor a jump
// in the stream's timestamps; the frames' clock alone when the stream's has none or went back.
int64_t AvSource::gop_length_ns(int64_t time_ns, int64_t packet_stream_ns) const {
    int64_t by_arrival = time_ns - last_key_ns_;
    if (packet_stream_ns == INT64_MIN || last_key_stream_ns_ == INT64_MIN || packet_stream_ns < last_key_stream_ns_)
        return by_arrival;
    return std::min(by_arrival, packet_stream_ns - last_key_stream_ns_);
}

// The packets read since the last frame go with this one, each timed from the frame's time by its own
// presentation time. Keyframes that stop coming for more than max_gop_s end passthrough for good, said
// once (av_source.py's _watch_keyframes): segments and the pre-roll would grow without bound.
void AvSource::hand_packets(Frame& frame, int64_t shown) {
    frame.passthrough = mode_ == "passthrough";
    if (!frame.passthrough) {
        pending_.clear();
        return;
    }
    if (!leading_) leading_ = std::make_unique<LeadingWatch>(params_->codec);
    if (decoder_->has_b_frames > 0)  // the decoder knows from the parameters it has decoded
        for (auto& p : pending_) leading_->see(*p.packet);
    if (leading_->open()) {  // a stream whose first packets did not show it (a stream's burst is all it probes)
        log::warning("camera ", config_.id, ": re-encoding from now on: ", kOpenGopWhy);
        end_passthrough(kOpenGopWhy);
        frame.passthrough = false;
        pending_.clear();
        return;
    }
    int64_t newest_stream_ns = INT64_MIN;
    for (auto& p : pending_) {
        int64_t pts = p.packet->pts != AV_NOPTS_VALUE ? p.packet->pts : p.packet->dts;
        int64_t dts = p.packet->dts != AV_NOPTS_VALUE ? p.packet->dts : pts;
        p.pts_ns = frame.time_ns + (pts != AV_NOPTS_VALUE && shown != AV_NOPTS_VALUE ? stream_ns(pts) - stream_ns(shown) : 0);
        if (dts != AV_NOPTS_VALUE) newest_stream_ns = stream_ns(dts);
        if (p.keyframe) last_key_ns_ = frame.time_ns, last_key_stream_ns_ = newest_stream_ns;
    }
    frame.packets = std::move(pending_);
    pending_.clear();
    if (!last_key_ns_) last_key_ns_ = frame.time_ns, last_key_stream_ns_ = newest_stream_ns;
    int64_t gop_ns = gop_length_ns(frame.time_ns, newest_stream_ns);
    if (gop_ns <= int64_t(config_.max_gop_s * 1e9)) return;
    log::warning("camera ", config_.id, ": no keyframe for ", std::lround(double(gop_ns) / 1e9),
                 " s (max_gop_s = ", number_text(config_.max_gop_s), "); re-encoding from now on; set the camera's "
                 "keyframe interval lower");
    end_passthrough("no keyframe for more than max_gop_s");
    frame.passthrough = false;
    frame.packets.clear();
}

// Passthrough given up while running (keyframes stopped, an open GOP): re-encoded from now on, so every frame
// must be decoded, in full.
void AvSource::end_passthrough(const std::string& why) {
    mode_ = "reencode";
    own_mode_ = mode_, own_why_ = why;
    if (gate_ || full_) {
        if (gate_) gate_->catch_up(decoder_);  // the GOP so far: the references of the frames to come
        gate_.reset(), full_.reset();
        decoder_->skip_loop_filter = AVDISCARD_DEFAULT;
        log::info("camera ", config_.id, ": decoding every frame in full from now on (re-encoded)");
    }
}

// What FFmpeg read while the stream opened (its frame-rate probe: ~2 s), read ahead to tell when its packets
// were sent (av_source.py's _read_burst). They are handed over at once, then the next as they are sent
// (OpenBurst says when that is). Each is kept with when it was handed over, and opened_anchor() puts the
// stream's time 0 where they say; the read's error, if one ended the reading ahead, is given once they
// have been taken.
void AvSource::read_burst() {
    OpenBurst burst(opened_ns_, footage_ns(), int64_t(1e9 / fps));
    size_t most = size_t(std::lround(kBurstMaxS * fps));
    std::vector<std::pair<int64_t, int64_t>> handed;
    while (ahead_.size() < most) {
        arm();
        AVPacket* packet = av_packet_alloc();
        if (!packet) break;
        int code = read_frame(packet);
        int64_t at = footage_ns();
        if (code < 0) {
            av_packet_free(&packet);
            ahead_code_ = code;
            break;
        }
        if (packet->stream_index != stream_ || packet->size == 0) {
            av_packet_free(&packet);
            continue;
        }
        restamp(packet);
        int64_t ticks = packet->dts != AV_NOPTS_VALUE ? packet->dts : packet->pts;
        std::optional<int64_t> packet_ns;
        if (ticks != AV_NOPTS_VALUE) handed.emplace_back(*(packet_ns = stream_ns(ticks)), at);
        ahead_.emplace_back(packet, at);
        if (burst.over(packet_ns, at)) break;
    }
    clock_.restart(opened_anchor(handed, opened_ns_), last_ns_);
    packet_ns_ = 0;
    first_ns_ = handed.empty() ? 0 : clock_.wall_ns(handed.front().first, last_ns_, int64_t(1e9 / fps));
}

// A USB H.264 camera's demuxer and options (usb_source.py's _open_container): v4l2 asked for the camera's H.264 at
// its size and rate (libavdevice, loaded at the first open: the detector runs without it for other sources), or
// the tests' FIFO read with the h264 demuxer, probed no further than its first frame.
const AVInputFormat* AvSource::usb_demuxer(const CameraConfig& c, AVDictionary** options) {
    char rate[32];
    std::snprintf(rate, sizeof rate, "%g", c.fps);
    av_dict_set(options, "framerate", rate, 0);
    if (c.demuxer != "v4l2") {
        av_dict_set(options, "probesize", "32", 0);
        av_dict_set(options, "analyzeduration", "0", 0);
        return av_find_input_format(c.demuxer.c_str());
    }
    av_dict_set(options, "input_format", "h264", 0);
    av_dict_set(options, "video_size", (std::to_string(c.width) + "x" + std::to_string(c.height)).c_str(), 0);
    av_dict_set(options, "analyzeduration", "1000000", 0);  // the driver gives size and rate: the parameter sets only
    static const AVInputFormat* v4l2 = [&]() -> const AVInputFormat* {
        void* device = ::dlopen("libavdevice.so." AV_STRINGIFY(LIBAVFORMAT_VERSION_MAJOR), RTLD_NOW | RTLD_GLOBAL);
        if (!device) device = ::dlopen("libavdevice.so", RTLD_NOW | RTLD_GLOBAL);
        auto register_all = device ? reinterpret_cast<void (*)()>(::dlsym(device, "avdevice_register_all")) : nullptr;
        if (register_all) register_all();
        const AVInputFormat* found = av_find_input_format("v4l2");
        if (!found)
            log::error("camera ", c.id, ": input_format = \"h264\" needs FFmpeg's libavdevice (v4l2), not found; "
                       "install it (apt install libavdevice", LIBAVFORMAT_VERSION_MAJOR, ")");
        return found;
    }();
    return v4l2;
}

// An H.264 camera asked for a keyframe every segment_s (at least 1 s): short GOPs, short segments (usb_source.py's
// _ask_for_keyframes, v4l2.py's request_keyframe_period: only cameras whose driver maps the encoder's interval
// to the standard control have it).
void AvSource::ask_for_keyframes() {
    double seconds = std::max(1.0, config_.recording.segment_s);
    int frames = std::max(1, int(std::lround(seconds * config_.fps)));
    bool asked = false;
#ifdef __linux__
    int fd = ::open(path_.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
        v4l2_control control{V4L2_CID_MPEG_VIDEO_H264_I_PERIOD, frames};
        asked = ::ioctl(fd, VIDIOC_S_CTRL, &control) == 0;
        ::close(fd);
    }
#endif
    if (asked)
        log::info("camera ", config_.id, ": asked the camera for a keyframe every ", frames, " frames (",
                  std::lround(seconds), " s)");
    else
        log::info("camera ", config_.id, ": the camera has no keyframe-interval control; its own interval is used "
                  "(max_gop_s = ", number_text(config_.max_gop_s), " s)");
}

// A USB H.264 camera's packet, stamped as the MP4 muxer needs (usb_source.py's _next_packet): from a pipe (no
// clock) one frame per packet at the rate; from the driver, its stamp, or just past the last one when it
// repeated it or set it back by less than a frame (a larger jump back ends the segment).
void AvSource::restamp(AVPacket* packet) {
    if (config_.demuxer.empty()) return;
    AVRational base = format_->streams[stream_]->time_base;
    int64_t frame_ticks = std::max<int64_t>(1, std::llround(double(base.den) / (fps * base.num)));
    if (config_.demuxer != "v4l2") {
        packet->pts = packet->dts = counted_++ * frame_ticks;
    } else {
        int64_t stamp = packet->pts != AV_NOPTS_VALUE ? packet->pts : packet->dts;
        if (stamp != AV_NOPTS_VALUE && last_stamp_ != AV_NOPTS_VALUE && last_stamp_ - stamp >= 0 &&
            last_stamp_ - stamp < frame_ticks)
            packet->pts = packet->dts = last_stamp_ + 1;
    }
    last_stamp_ = packet->pts != AV_NOPTS_VALUE ? packet->pts : packet->dts;
}

// The next packet into packet_ (av_read_frame's code): those read ahead at the open first.
int AvSource::next_packet() {
    if (!ahead_.empty()) {
        av_packet_move_ref(packet_, ahead_.front().first);
        av_packet_free(&ahead_.front().first);
        ahead_.pop_front();
        return 0;
    }
    if (ahead_code_ < 0) return std::exchange(ahead_code_, 0);
    int code = read_frame(packet_);
    if (code >= 0 && packet_->stream_index == stream_) restamp(packet_);
    return code;
}

int64_t AvSource::stream_ns(int64_t ticks) const {
    return av_rescale_q(ticks, format_->streams[stream_]->time_base, AVRational{1, 1'000'000'000});
}

// A presentation time of a file analysed as fast as possible on its own timeline (av_source.py's _wall_ns): the
// stream's start (else the first time asked) at file_start_ns(), each looped pass after the last. Timed from when it
// was read, its events were in the future (read faster than real time) and matched neither the file nor the Python
// detector's times for it.
int64_t AvSource::timeline_ns(int64_t ticks) {
    if (anchor_ns_ == INT64_MIN) {  // the first frame shown is at the start, not the first packet decoded
        int64_t start = format_->streams[stream_]->start_time;
        anchor_ns_ = file_start_ns_ + loop_offset_ns_ - stream_ns(start != AV_NOPTS_VALUE ? start : ticks);
    }
    int64_t at = anchor_ns_ + stream_ns(ticks);
    // Times that step back (parts joined without their times made continuous: `cat` of MPEG-TS files) go on a
    // frame after the latest (av_source.py's _stepped_back). Before, every frame after the step was clamped to a
    // nanosecond past the one before: a segment of 50 frames in 0.9 s, the motion clocks squeezed.
    if (timeline_last_ns_ != INT64_MIN && at < timeline_last_ns_ - kStepBackNs) {
        char text[200];
        std::snprintf(text, sizeof text, "the file's times step back by %.1f s (parts joined without their times "
                      "made continuous?); its timeline goes on a frame after the latest, never back",
                      double(timeline_last_ns_ - at) / 1e9);
        if (steps_back_++ == 0) log::warning("camera ", config_.id, ": ", text);
        else log::info("camera ", config_.id, ": ", text);
        anchor_ns_ += timeline_last_ns_ - at + int64_t(1e9 / fps);
        at = anchor_ns_ + stream_ns(ticks);
    }
    timeline_last_ns_ = timeline_last_ns_ == INT64_MIN ? at : std::max(timeline_last_ns_, at);
    return at;
}

// When a file's first frame was filmed (av_source.py's _file_start_ns): its container's creation_time (most
// cameras and phones set it), else its mtime minus its length. Said once, as the Python detector says it.
int64_t AvSource::file_start_ns() const {
    const AVDictionaryEntry* tag = av_dict_get(format_->metadata, "creation_time", nullptr, 0);
    std::optional<int64_t> created = tag ? iso_time_ns(tag->value) : std::nullopt;
    const char* why = "its creation time";
    if (!created) {
        struct stat info {};
        int64_t length_ns = format_->duration > 0 ? format_->duration * 1000 : 0;  // AV_TIME_BASE: microseconds
        int64_t mtime_ns = ::stat(path_.c_str(), &info) == 0
                               ? int64_t(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec : footage_ns();
        created = mtime_ns - length_ns, why = "its mtime minus its length";
    }
    std::time_t seconds = std::time_t(*created / 1'000'000'000 - (*created % 1'000'000'000 < 0 ? 1 : 0));
    std::tm local {};
    char when[32] = "?";
    if (::localtime_r(&seconds, &local)) std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &local);
    log::info("camera ", config_.id, ": the file's first frame is at ", when, " (", why, ")");
    return *created;
}

// The decoded frame's time: a stream's by its clock (its presentation time, else its packet's; a frame of
// the packets without a time a stream may begin with, as RTSP's first, a frame before the first timed one),
// a file analysed as fast as possible on its own timeline, anything else (a file played in real time) the
// footage clock.
int64_t AvSource::frame_time_ns(int64_t pts) {
    if (config_.source == "file" && !config_.realtime)  // a frame without a time: just after the one before
        return last_ns_ = std::max(pts != AV_NOPTS_VALUE ? timeline_ns(pts) : last_ns_, last_ns_ + 1);
    if (config_.source != "stream") return footage_ns();
    int64_t frame_ns = int64_t(1e9 / fps);
    int64_t at = pts != AV_NOPTS_VALUE ? clock_.wall_ns(stream_ns(pts), last_ns_, frame_ns)
                 : packet_ns_ ? packet_ns_ : first_ns_ ? first_ns_ - frame_ns : footage_ns();
    return last_ns_ = std::max(at, last_ns_ + 1);
}

// A file reopened after a read error (a network share's hiccup) goes on after what it gave already
// (av_source.py's _resume). From its start, it was analysed again: every event before the error a
// second time, as new footage. Seeks to the keyframe at or before the last packet read; the frames
// decoded from there up to the last one handed on are decoded again only as the decoder's references
// and not handed on (decode_next). Where the seek fails, the file is read from its start with the same
// skipping (slower, still exact); a file without timestamps skips as many frames as it gave.
void AvSource::resume() {
    skip_pts_ = shown_pts_;
    skip_frames_ = shown_pts_ == AV_NOPTS_VALUE ? shown_frames_ : 0;
    if (shown_pts_ != AV_NOPTS_VALUE && av_seek_frame(format_, stream_, taken_dts_, AVSEEK_FLAG_BACKWARD) < 0)
        log::warning("camera ", config_.id, ": cannot seek back to where the read failed; reading the file from its "
                     "start, without analysing again what was analysed");
    log::info("camera ", config_.id, ": resuming the file after what was read before the error");
}

// True for a frame decoded again after resume() that was handed on before the error.
bool AvSource::given_before() {
    if (skip_frames_ > 0) return --skip_frames_, true;
    if (skip_pts_ == AV_NOPTS_VALUE) return false;
    int64_t pts = decoded_->best_effort_timestamp;
    if (pts != AV_NOPTS_VALUE && pts <= skip_pts_) return true;
    skip_pts_ = AV_NOPTS_VALUE;
    return false;
}

bool AvSource::keyframe() const {
#ifdef AV_FRAME_FLAG_KEY
    return (decoded_->flags & AV_FRAME_FLAG_KEY) != 0;
#else
    return decoded_->key_frame != 0;
#endif
}

// The next decoded picture, or false at the end of the input (or on an error).
bool AvSource::decode_next() {
    while (true) {
        int code = avcodec_receive_frame(decoder_, decoded_);
        if (code == 0) {
            // FFmpeg 5 says concealed macroblocks in decode_error_flags, FFmpeg 7 and PyAV's also in the flag
            bool corrupt = (decoded_->flags & AV_FRAME_FLAG_CORRUPT) != 0 || decoded_->decode_error_flags != 0;
            if (!corrupt) damaged_.decoded(keyframe(), given_ns_);  // a keyframe decoded again after a reopen is whole too
            if (given_before()) {  // its packets were handed on before the error
                pending_.clear();
                continue;
            }
            if (corrupt) damaged_.damaged(given_ns_);  // parts of the picture could not be read: not analysed (read)
            corrupt_ = corrupt;
            shown_pts_ = decoded_->best_effort_timestamp;
            ++shown_frames_;
            return true;
        }
        if (code != AVERROR(EAGAIN) || draining_) return false;
        arm();
        std::optional<int64_t> held_ns;  // read ahead at the open: when it was handed over
        if (!ahead_.empty()) held_ns = ahead_.front().second;
        code = next_packet();
        if (code < 0 && stopping()) return false;  // the stop cut the read short: neither an error nor the end
        if (code < 0 && config_.source == "file" && (code != AVERROR_EOF || (format_->pb && format_->pb->error < 0))) {
            // A read error, not the end: the file is lost (read() says so), reopened and resumed where it was.
            // Taken as its end, the rest of the file was never analysed and the analysis said complete.
            char text[AV_ERROR_MAX_STRING_SIZE] = {};
            av_strerror(format_->pb && format_->pb->error < 0 ? format_->pb->error : code, text, sizeof text);
            read_error_ = text;
            return false;
        }
        if (code < 0) {  // the end (or a dead stream): take the frames the decoder still holds
            draining_ = true;
            avcodec_send_packet(decoder_, nullptr);
            continue;
        }
        if (packet_->stream_index == stream_) {
            if (packet_->dts != AV_NOPTS_VALUE && (taken_dts_ == AV_NOPTS_VALUE || packet_->dts > taken_dts_))
                taken_dts_ = packet_->dts;
            int64_t ticks = packet_->dts != AV_NOPTS_VALUE ? packet_->dts : packet_->pts;
            if (config_.source == "stream" && ticks != AV_NOPTS_VALUE)  // checked against the footage clock
                packet_ns_ = clock_.wall_ns(stream_ns(ticks), last_ns_, int64_t(1e9 / fps), true, held_ns,
                                            held_ns.has_value());
            keep_packet();
            if (full_) full_->add(packet_, (packet_->flags & AV_PKT_FLAG_KEY) != 0);
            if (gate_ && gate_->skip(packet_, (packet_->flags & AV_PKT_FLAG_KEY) != 0, decoder_)) {
                undecoded_pts_ = packet_->pts != AV_NOPTS_VALUE ? packet_->pts : packet_->dts;
                undecoded_ = true;  // handed on as it is (read): recorded, not analysed
                // A substream's keyframes that stop coming (a recorded stream's give up passthrough: hand_packets)
                if (role_ == Role::Detect && gate_->held() > size_t(std::lround(config_.max_gop_s * fps))) {
                    gate_->catch_up(decoder_);  // the references of the frames to come; this one's picture dropped
                    gate_.reset();
                    log::warning("camera ", config_.id, ": no keyframe for more than max_gop_s = ",
                                 number_text(config_.max_gop_s), " s while decoding keyframes only; decoding every "
                                 "frame from now on (set the camera's keyframe interval lower)");
                }
                av_packet_unref(packet_);
                return true;
            }
            if (avcodec_send_packet(decoder_, packet_) < 0) damaged_.damaged(given_ns_);  // recording keeps it as it came
        }
        av_packet_unref(packet_);
    }
}

bool AvSource::rewind() {
    if (av_seek_frame(format_, stream_, 0, AVSEEK_FLAG_BACKWARD) < 0 &&
        avformat_seek_file(format_, -1, INT64_MIN, 0, 0, 0) < 0)
        return false;
    avcodec_flush_buffers(decoder_);
    if (file_start_ns_ != INT64_MIN)  // the next pass goes on a frame after this one
        loop_offset_ns_ = last_ns_ + int64_t(1e9 / fps) - file_start_ns_, anchor_ns_ = INT64_MIN;
    if (gate_) gate_->clear();
    if (full_) full_->clear();
    draining_ = false;
    taken_dts_ = shown_pts_ = skip_pts_ = AV_NOPTS_VALUE;  // a new pass: a read error resumes within it
    shown_frames_ = skip_frames_ = 0;
    return true;
}

// A picture is cropped to even sizes (I420's); one under 2 pixels wide or high (a camera's glitch, a broken
// file) is stretched to 2 instead, and analysed as the Python detector analyses it as it is (a 1x1 black
// picture is a dark frame). Cropped to nothing, it made the capture loop throw: skipped, counted as a
// failure, and a live source closed and reopened.
namespace {
constexpr size_t kScalerPadding = 64;  // bytes after each plane swscale writes into (AV_INPUT_BUFFER_PADDING_SIZE)
}  // namespace

void AvSource::to_frame(Frame& frame, const AVFrame* decoded) {
    int w = std::max(2, decoded->width & ~1), h = std::max(2, decoded->height & ~1);
    int from_w = std::min(w, decoded->width), from_h = std::min(h, decoded->height);
    frame.width = w, frame.height = h;
    frame.yuv.create(h * 3 / 2, w, CV_8UC1);
    uint8_t* planes[] = {frame.yuv.data, frame.yuv.data + size_t(w) * h, frame.yuv.data + size_t(w) * h * 5 / 4};
    int strides[] = {w, w / 2, w / 2};
    if (decoded->format == AV_PIX_FMT_YUV420P && from_w == w && from_h == h) {  // the usual case: a plain copy
        av_image_copy(planes, strides, const_cast<const uint8_t**>(decoded->data), decoded->linesize,
                      AV_PIX_FMT_YUV420P, w, h);
        return;
    }
    // Anything else (full-range MJPEG, 4:2:2, a picture stretched) to limited-range 4:2:0, as OpenCV sees it.
    scaler_ = sws_getCachedContext(scaler_, from_w, from_h, AVPixelFormat(decoded->format), w, h, AV_PIX_FMT_YUV420P,
                                   SWS_BILINEAR, nullptr, nullptr, nullptr);
    if (!scaler_) throw std::runtime_error("no converter from this video's pixel format");
    // swscale writes whole SIMD words, past a row's end (FFmpeg pads its own buffers for it): into the frame's
    // planes of exactly w x h it wrote past the last one's end (a chroma row of 1 byte, a 320x2 picture, any
    // width whose half is not a multiple of 16), corrupting the heap, and the detector aborted later ("double
    // free or corruption"). So each plane is scaled into a padded one of its own, then copied.
    const size_t luma = size_t(w) * h, chroma = luma / 4;
    scaled_.resize(luma + chroma * 2 + 3 * kScalerPadding);
    uint8_t* padded[] = {scaled_.data(), scaled_.data() + luma + kScalerPadding,
                         scaled_.data() + luma + chroma + 2 * kScalerPadding};
    sws_scale(scaler_, decoded->data, decoded->linesize, 0, from_h, padded, strides);
    std::memcpy(planes[0], padded[0], luma);
    std::memcpy(planes[1], padded[1], chroma);
    std::memcpy(planes[2], padded[2], chroma);
}

bool AvSource::read(Frame& frame) {
    if (!decoder_) return false;
    bool paced = config_.source == "file" && config_.realtime;
    if (paced) pacer_.wait();  // each packet not decoded takes its time too
    undecoded_ = false;
    if (!decode_next()) {
        if (stopping()) return false;
        if (!read_error_.empty()) {
            log::warning("camera ", config_.id, ": read error in ", name(), " (", read_error_, ")");
            return false;  // lost: reopened, and resumed after what was read
        }
        if (config_.source != "file") return false;
        if (!config_.loop || index_ == 0) {
            ended = true;
            cut_short = unfinished();
            return false;
        }
        if (!rewind() || !decode_next()) return false;
    }
    if (undecoded_) {  // no picture: its packet is recorded, timed as its frame would be
        frame.undecoded = true;
        frame.width = width, frame.height = height;
        frame.time_ns = given_ns_ = frame_time_ns(undecoded_pts_);
        frame.index = index_++;
        frame.keyframe = 0;
        hand_packets(frame, undecoded_pts_);
        return true;
    }
    try {
        to_frame(frame, decoded_);
    } catch (...) {  // the picture is lost (the capture loop throws), not its time: those after it keep theirs
        ++index_;
        throw;
    }
    width = frame.width, height = frame.height;  // the frames, not the container, tell the truth
    frame.time_ns = given_ns_ = frame_time_ns(decoded_->best_effort_timestamp);
    frame.index = index_++;
    frame.keyframe = keyframe() ? 1 : 0;
    frame.damaged = damaged_.not_analysed(corrupt_, frame.time_ns);  // recorded, not analysed (damaged_packets.hpp)
    hand_packets(frame, decoded_->best_effort_timestamp);
    return true;
}

// Role::Record (packet_capture.py's read_packet): path's next video packet, demuxed, never decoded, timed as the
// substream's frames are: a stream's by its own clock on the footage clock (both anchored where their packets
// arrive), a file read as fast as possible on its own timeline (timeline_ns; the substream's file on its own), a
// file played in real time when it is read. Keyframes that stop coming are said, not acted on: the open segment grows until the next
// (a decoded source would re-encode instead; here there is nothing decoded to re-encode, as in Python).
bool AvSource::read_packet(EncodedPacket& out) {
    if (!format_ || !params_) return false;
    const int64_t frame_ns = int64_t(1e9 / fps);
    while (true) {
        arm();
        std::optional<int64_t> held_ns;  // read ahead at the open: when it was handed over
        if (!ahead_.empty()) held_ns = ahead_.front().second;
        int code = next_packet();
        if (code < 0) {
            if (config_.source != "file" || stopping()) return false;  // lost: reopened by the caller
            if (code != AVERROR_EOF || (format_->pb && format_->pb->error < 0)) {
                char text[AV_ERROR_MAX_STRING_SIZE] = {};
                av_strerror(format_->pb && format_->pb->error < 0 ? format_->pb->error : code, text, sizeof text);
                read_error_ = text;
                return false;
            }
            if (!config_.loop || !last_pts_ns_ ||
                (av_seek_frame(format_, stream_, 0, AVSEEK_FLAG_BACKWARD) < 0 &&
                 avformat_seek_file(format_, -1, INT64_MIN, 0, 0, 0) < 0)) {
                ended = true;
                return false;
            }
            loop_offset_ns_ = last_pts_ns_ + frame_ns - file_start_ns_;  // the next pass goes on after this one
            anchor_ns_ = INT64_MIN;
            ++packet_index_;  // a new pass: a segment does not go on over it
            continue;
        }
        if (packet_->stream_index != stream_ || packet_->size == 0) {
            av_packet_unref(packet_);
            continue;
        }
        int64_t dts = packet_->dts != AV_NOPTS_VALUE ? packet_->dts : packet_->pts;
        int64_t pts = packet_->pts != AV_NOPTS_VALUE ? packet_->pts : dts;
        int64_t shown_after_ns = dts != AV_NOPTS_VALUE ? stream_ns(pts) - stream_ns(dts) : 0;  // B-frames
        int64_t at;  // its decode time on the frames' clock
        if (dts == AV_NOPTS_VALUE) {
            at = last_ns_ ? last_ns_ + frame_ns : footage_ns();
        } else if (config_.source == "stream") {
            at = clock_.wall_ns(stream_ns(dts), last_ns_, frame_ns, true, held_ns, held_ns.has_value());
        } else if (config_.realtime) {
            pacer_.wait();
            at = footage_ns();
        } else {
            at = timeline_ns(pts) - shown_after_ns;
        }
        last_ns_ = std::max(at, last_ns_ + 1);
        int64_t pts_ns = last_ns_ + shown_after_ns;
        last_pts_ns_ = std::max(last_pts_ns_, pts_ns);
        bool key = (packet_->flags & AV_PKT_FLAG_KEY) != 0;
        follow_parameters();
        out = {packet_ref(packet_), params_, pts_ns, packet_index_++, key};
        av_packet_unref(packet_);
        int64_t packet_stream_ns = dts != AV_NOPTS_VALUE ? stream_ns(dts) : INT64_MIN;
        if (key || !last_key_ns_) {
            if (key && gop_warned_)
                log::info("camera ", config_.id, ": keyframes again after ",
                          std::lround(double(last_ns_ - last_key_ns_) / 1e9), " s");
            last_key_ns_ = last_ns_, last_key_stream_ns_ = packet_stream_ns, gop_warned_ = false;
        } else if (!gop_warned_ && gop_length_ns(last_ns_, packet_stream_ns) > int64_t(config_.max_gop_s * 1e9)) {
            gop_warned_ = true;
            log::warning("camera ", config_.id, ": no keyframe for ", std::lround(double(gop_length_ns(last_ns_, packet_stream_ns)) / 1e9),
                         " s (max_gop_s = ", number_text(config_.max_gop_s), "); the open segment grows until the "
                         "next keyframe; set the camera's keyframe interval lower");
        }
        return true;
    }
}

// Why a file that ended was not read to its end, "" when it was (sources.py's cut_short): the open file
// (FFmpeg asks fstat, so a file deleted and emptied is 0 bytes) is smaller than when it opened, or larger (still
// being written: the end read was not its end, and the demuxer does not wait for more).
std::string AvSource::unfinished() const {
    int64_t now_bytes = config_.source == "file" && format_ ? avio_size(format_->pb) : -1;
    if (now_bytes < 0 || opened_bytes_ < 0 || now_bytes == opened_bytes_) return "";
    std::string sizes = "(" + std::to_string(opened_bytes_) + " bytes when it opened, " + std::to_string(now_bytes) +
                        " at its end)";
    if (now_bytes > opened_bytes_)
        return path_ + " was still being written while it was analysed " + sizes + ": what was written later was "
               "not analysed; analyse it again once it is complete";
    return path_ + " was cut short while it was analysed " + sizes + "; analyse a complete copy of it";
}

void AvSource::close() {
    for (auto& [packet, at] : ahead_) av_packet_free(&packet);
    ahead_.clear();
    pending_.clear();
    gate_.reset();
    full_.reset();
    ahead_code_ = 0;
    other_only_ = false;
    if (scaler_) sws_freeContext(scaler_);
    if (decoded_) av_frame_free(&decoded_);
    if (packet_) av_packet_free(&packet_);
    if (decoder_) avcodec_free_context(&decoder_);
    if (format_) avformat_close_input(&format_);
    polled_.reset();  // after the format that reads through it
    scaler_ = nullptr;
    stream_ = -1;
}

}  // namespace qc
