#include "remux.hpp"

#include <algorithm>
#include <optional>
#include <string_view>
#include <stdexcept>

#include "av_error.hpp"
#include "stream_clock.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

namespace qc {

namespace {
// A packet's decode time, else its presentation time (the first packets of an RTSP stream may have neither).
int64_t decode_ticks(const AVPacket& packet) { return packet.dts != AV_NOPTS_VALUE ? packet.dts : packet.pts; }
}  // namespace

StreamParams::StreamParams(const AVCodecParameters* given, int num, int den, double rate, std::string name)
    : codecpar(avcodec_parameters_alloc()), time_base_num(num), time_base_den(den), fps(rate),
      codec(std::move(name)), width(given->width), height(given->height) {
    if (!codecpar || avcodec_parameters_copy(codecpar, given) < 0) {
        avcodec_parameters_free(&codecpar);
        throw std::runtime_error("out of memory copying the stream's parameters");
    }
}

StreamParams::~StreamParams() { avcodec_parameters_free(&codecpar); }

std::shared_ptr<AVPacket> packet_ref(const AVPacket* packet) {
    AVPacket* copy = av_packet_clone(packet);
    if (!copy) throw std::runtime_error("out of memory keeping a packet");
    return std::shared_ptr<AVPacket>(copy, [](AVPacket* p) { av_packet_free(&p); });
}

bool passes_through(const std::string& codec) { return codec == "h264" || codec == "hevc"; }

namespace {
int nal_kind(const std::string& codec, uint8_t header) { return codec == "h264" ? header & 0x1F : (header >> 1) & 0x3F; }
bool is_picture(const std::string& codec, uint8_t header) {
    int kind = nal_kind(codec, header);
    return codec == "h264" ? kind >= 1 && kind <= 5 : kind < 32;
}
bool is_parameter_set(const std::string& codec, uint8_t header) {
    int kind = nal_kind(codec, header);
    return codec == "h264" ? kind == 7 || kind == 8 : kind >= 32 && kind <= 34;
}
int64_t big_endian(const uint8_t* at, int bytes) {
    int64_t value = 0;
    for (int n = 0; n < bytes; ++n) value = (value << 8) | at[n];
    return value;
}
const char* chars(const uint8_t* data) { return reinterpret_cast<const char*>(data); }
}  // namespace

int nal_length_size(const std::string& codec, const uint8_t* extradata, int size) {
    int at = codec == "h264" ? 4 : 21;
    return extradata && size > at && extradata[0] == 1 ? (extradata[at] & 3) + 1 : 0;
}

std::vector<std::string_view> nal_units(const uint8_t* data, int size, int length_size, const std::string& stop_codec) {
    std::vector<std::string_view> units;
    if (length_size > 0) {
        for (int64_t at = 0; at + length_size < size;) {
            int64_t end = std::min<int64_t>(size, at + length_size + big_endian(data + at, length_size));
            units.emplace_back(chars(data + at + length_size), size_t(std::max<int64_t>(0, end - at - length_size)));
            at = end;
            if (!stop_codec.empty() && !units.back().empty() && is_picture(stop_codec, uint8_t(units.back()[0]))) break;
        }
        return units;
    }
    auto start_at = [&](int from) {
        for (int at = from; at + 2 < size; ++at)
            if (data[at] == 0 && data[at + 1] == 0 && data[at + 2] == 1) return at;
        return -1;
    };
    int at = start_at(0);
    if (at > 2) return units;  // not Annex B
    while (at >= 0 && at + 3 < size) {
        // the picture is not scanned (a keyframe's bulk) when only what comes before it is wanted
        int following = !stop_codec.empty() && is_picture(stop_codec, data[at + 3]) ? -1 : start_at(at + 3);
        int end = following >= 0 ? following : size;
        while (end > at + 4 && data[end - 1] == 0) --end;  // a 4-byte start code's 0
        units.emplace_back(chars(data + at + 3), size_t(end - at - 3));
        at = following;
    }
    return units;
}

std::string annex_b(const std::vector<std::string_view>& units) {
    std::string out;
    for (auto unit : units) out.append("\0\0\0\1", 4).append(unit);
    return out;
}

std::string parameter_sets(const std::string& codec, const uint8_t* data, int size, int length_size) {
    std::vector<std::string_view> sets;
    for (auto unit : nal_units(data, size, length_size, codec))
        if (!unit.empty() && is_parameter_set(codec, uint8_t(unit[0]))) sets.push_back(unit);
    return annex_b(sets);
}

std::string extradata_sets(const std::string& codec, const uint8_t* data, int size) {
    if (!data || size < 1) return std::string();
    if (data[0] != 1) return parameter_sets(codec, data, size, 0);
    std::vector<std::string_view> units;
    auto take = [&](int64_t& at, int64_t count) {
        for (int64_t n = 0; n < count; ++n) {
            if (at + 2 > size) return false;
            int64_t length = big_endian(data + at, 2);
            if (at + 2 + length > size) return false;
            units.emplace_back(chars(data + at + 2), size_t(length));
            at += 2 + length;
        }
        return true;
    };
    int64_t at = 0;
    if (codec == "h264") {
        if (size < 7) return std::string();
        at = 6;
        if (!take(at, data[5] & 0x1F) || at >= size) return std::string();
        int64_t count = data[at++];
        if (!take(at, count)) return std::string();
    } else {
        if (size < 23) return std::string();
        at = 23;
        for (int array = 0; array < data[22]; ++array) {
            if (at + 3 > size) return std::string();
            int64_t count = big_endian(data + at + 1, 2);
            at += 3;
            if (!take(at, count)) return std::string();
        }
    }
    std::vector<std::string_view> sets;
    for (auto unit : units)
        if (!unit.empty() && is_parameter_set(codec, uint8_t(unit[0]))) sets.push_back(unit);
    return annex_b(sets);
}

std::string pictures(const std::string& codec, const uint8_t* data, int size, int length_size) {
    std::vector<std::string_view> rest;
    for (auto unit : nal_units(data, size, length_size))
        if (!unit.empty() && !is_parameter_set(codec, uint8_t(unit[0]))) rest.push_back(unit);
    return annex_b(rest);
}

std::optional<PictureMeaning> picture_meaning(const StreamParams& stream, const std::string& sets,
                                              const std::string& picture) {
    std::optional<PictureMeaning> meaning;
    const AVCodec* codec = avcodec_find_decoder(stream.codecpar->codec_id);
    AVCodecContext* decoder = codec ? avcodec_alloc_context3(codec) : nullptr;
    AVFrame* frame = av_frame_alloc();
    AVPacket* packet = av_packet_alloc();
    std::string bytes = sets + picture;
    if (decoder && frame && packet && av_new_packet(packet, int(bytes.size())) >= 0) {
        std::copy(bytes.begin(), bytes.end(), packet->data);
        decoder->thread_count = 1;
        if (avcodec_open2(decoder, codec, nullptr) >= 0 && avcodec_send_packet(decoder, packet) >= 0 &&
            avcodec_send_packet(decoder, nullptr) >= 0 && avcodec_receive_frame(decoder, frame) >= 0)
            meaning = PictureMeaning{frame->width, frame->height, frame->format, decoder->profile};
    }
    av_packet_free(&packet);
    av_frame_free(&frame);
    avcodec_free_context(&decoder);
    return meaning;
}

std::shared_ptr<const StreamParams> with_parameter_sets(const StreamParams& now, const std::string& sets,
                                                        const std::optional<PictureMeaning>& meaning, int nal_length) {
    auto next = std::make_shared<StreamParams>(now.codecpar, now.time_base_num, now.time_base_den, now.fps, now.codec);
    if (meaning)
        next->width = next->codecpar->width = meaning->width, next->height = next->codecpar->height = meaning->height;
    next->nal_length = nal_length;
    AVCodecParameters* par = next->codecpar;
    av_freep(&par->extradata);
    par->extradata = static_cast<uint8_t*>(av_mallocz(sets.size() + AV_INPUT_BUFFER_PADDING_SIZE));
    if (!par->extradata) throw std::runtime_error("out of memory keeping the stream's parameter sets");
    std::copy(sets.begin(), sets.end(), par->extradata);
    par->extradata_size = int(sets.size());
    return next;
}

namespace {
// Whether every picture NAL unit (type under 32) of an H.265 packet is a RADL leading picture (types 6, 7),
// Annex B (a stream's) or 4-byte length-prefixed (a file's): av_stream.py's hevc_picture_types.
bool hevc_only_radl(const AVPacket& packet) {
    const uint8_t* data = packet.data;
    const int size = packet.size;
    bool annex_b = size >= 4 && data[0] == 0 && data[1] == 0 && (data[2] == 1 || (data[2] == 0 && data[3] == 1));
    auto radl = [](uint8_t header) { int kind = (header >> 1) & 0x3F; return kind >= 32 || kind == 6 || kind == 7; };
    if (annex_b) {
        for (int at = 0; at + 3 < size; ++at)
            if (data[at] == 0 && data[at + 1] == 0 && data[at + 2] == 1 && !radl(data[at + 3])) return false;
        return true;
    }
    for (int64_t at = 0; at + 4 < size;) {
        if (!radl(data[at + 4])) return false;
        at += 4 + ((int64_t(data[at]) << 24) | (int64_t(data[at + 1]) << 16) | (int64_t(data[at + 2]) << 8) | data[at + 3]);
    }
    return true;
}
}  // namespace

void LeadingWatch::see(const AVPacket& packet) {
    if (packet.flags & AV_PKT_FLAG_KEY) {
        if (watching_) ++settled_;  // a keyframe right after a keyframe: no leading pictures
        key_pts_ = packet.pts, watching_ = packet.pts != AV_NOPTS_VALUE, leading_ = 0;
        if (!watching_) ++settled_;  // no times (a raw stream): nothing to judge it by
        return;
    }
    if (!watching_) return;
    if (packet.pts == AV_NOPTS_VALUE || packet.pts > key_pts_ || ++leading_ > kLeadingMax) {
        watching_ = false, ++settled_;
        return;
    }
    if (codec_ != "hevc" || !hevc_only_radl(packet)) open_ = true;
}

int64_t probe_gop_ns(const std::vector<bool>& keyframes, double fps) {
    int64_t first = -1;
    for (size_t count = 0; count < keyframes.size(); ++count) {
        if (!keyframes[count]) continue;
        if (first >= 0) return int64_t(double(int64_t(count) - first) * 1e9 / fps);
        first = int64_t(count);
    }
    return -1;
}

SegmentRemuxer::SegmentRemuxer(const std::string& path, std::shared_ptr<const StreamParams> stream)
    : path_(path), stream_(std::move(stream)) {
    auto fail = [&](const std::string& step, int code = 0) {
        release();
        throw_av_error("cannot write " + path + ": " + step, code);
    };
    if (avformat_alloc_output_context2(&format_, nullptr, "mp4", path.c_str()) < 0 || !format_) fail("no mp4 muxer");
    out_ = avformat_new_stream(format_, nullptr);
    scratch_ = av_packet_alloc();
    if (!out_ || !scratch_) fail("out of memory");
    int code = avcodec_parameters_copy(out_->codecpar, stream_->codecpar);
    if (code < 0) fail("cannot copy the stream's parameters", code);
    // The MP4 muxer's own tag (an MPEG-TS or RTSP tag means nothing in MP4), but H.265 as hvc1: Apple's
    // players refuse the muxer's default hev1 (common/mp4_tags.py says the same for the Python detector).
    out_->codecpar->codec_tag = stream_->codec == "hevc" ? MKTAG('h', 'v', 'c', '1') : 0;
    out_->time_base = AVRational{stream_->time_base_num, stream_->time_base_den};
    if ((code = avio_open(&format_->pb, path.c_str(), AVIO_FLAG_WRITE)) < 0) fail("cannot create the file", code);
    if ((code = avformat_write_header(format_, nullptr)) < 0) fail("cannot write the MP4 header", code);
}

SegmentRemuxer::~SegmentRemuxer() { release(); }

bool SegmentRemuxer::follows(const EncodedPacket& packet) const { return packet.stream == stream_; }

void SegmentRemuxer::write(const EncodedPacket& given) {
    const AVPacket& in = *given.packet;
    int64_t dts = decode_ticks(in);
    if (dts == AV_NOPTS_VALUE) dts = last_dts_ == INT64_MIN ? 0 : last_dts_ + std::max<int64_t>(1, in.duration);
    int64_t pts = in.pts != AV_NOPTS_VALUE ? in.pts : dts;
    if (zero_ == INT64_MIN) zero_ = std::min(dts, pts);
    if (last_dts_ != INT64_MIN && dts <= last_dts_)  // gone back: on one step after the last packet
        shift_ += dts - last_dts_ - step_;
    else if (last_dts_ != INT64_MIN)
        step_ = dts - last_dts_;
    shift_ += jumped(pts, given.pts_ns);
    last_dts_ = dts;
    int code = av_packet_ref(scratch_, &in);
    if (code < 0) throw_av_error("cannot write " + path_, code);
    av_packet_free_side_data(scratch_);  // the bytes and times only, as passthrough.py's Remuxer (a new header: ours)
    if (stream_->nal_length > 0) {  // a file's packets after new parameter sets: Annex B, as the header's sets
        std::string bytes = annex_b(nal_units(in.data, in.size, stream_->nal_length));
        AVBufferRef* buffer = av_buffer_allocz(int(bytes.size() + AV_INPUT_BUFFER_PADDING_SIZE));
        if (!buffer) throw std::runtime_error("out of memory writing " + path_);
        std::copy(bytes.begin(), bytes.end(), buffer->data);
        av_buffer_unref(&scratch_->buf);
        scratch_->buf = buffer, scratch_->data = buffer->data, scratch_->size = int(bytes.size());
    }
    scratch_->dts = std::max(dts - zero_ - shift_, last_out_dts_ + 1);
    scratch_->pts = std::max(pts - zero_ - shift_, scratch_->dts);
    last_out_dts_ = scratch_->dts;
    if (scratch_->duration <= 0 && stream_->fps > 0)  // one frame: the MP4's edit list must not end before the last
        scratch_->duration = av_rescale_q(1, av_inv_q(av_d2q(stream_->fps, 1001)),
                                          AVRational{stream_->time_base_num, stream_->time_base_den});
    scratch_->stream_index = out_->index;
    scratch_->pos = -1;
    av_packet_rescale_ts(scratch_, AVRational{stream_->time_base_num, stream_->time_base_den}, out_->time_base);
    code = av_write_frame(format_, scratch_);
    av_packet_unref(scratch_);
    if (code < 0) throw_av_error("cannot write " + path_, code);
}

int64_t SegmentRemuxer::jumped(int64_t pts, int64_t pts_ns) {
    AVRational base{stream_->time_base_num, stream_->time_base_den};
    int64_t ahead_ns = av_rescale_q(pts, base, AVRational{1, 1000000000}) - pts_ns;
    int64_t jump_ns = ahead_ns_ == INT64_MIN ? 0 : ahead_ns - ahead_ns_;
    ahead_ns_ = ahead_ns;
    return jump_ns > kDriftNs ? av_rescale_q(jump_ns, AVRational{1, 1000000000}, base) : 0;
}

void SegmentRemuxer::close() {
    if (closed_) return;
    closed_ = true;
    int code = av_write_trailer(format_);
    if (code < 0) throw_av_error("cannot finish " + path_, code);
    release();
}

void SegmentRemuxer::release() {
    if (scratch_) av_packet_free(&scratch_);
    if (format_) {
        if (format_->pb) avio_closep(&format_->pb);
        avformat_free_context(format_);
    }
    format_ = nullptr;
    out_ = nullptr;
}

}  // namespace qc
