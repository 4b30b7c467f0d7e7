#include "full_decode.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
}

namespace qc {

FullDecode::FullDecode(const AVCodecParameters* stream) : stream_(avcodec_parameters_alloc()) {
    if (stream_ && avcodec_parameters_copy(stream_, stream) < 0) avcodec_parameters_free(&stream_);
}

FullDecode::~FullDecode() {
    clear();
    avcodec_parameters_free(&stream_);
}

void FullDecode::clear() {
    for (AVPacket*& packet : gop_) av_packet_free(&packet);
    gop_.clear();
}

void FullDecode::add(const AVPacket* packet, bool keyframe) {
    if (keyframe) clear();
    else if (gop_.empty()) return;  // no keyframe yet: nothing here decodes
    if (AVPacket* kept = av_packet_clone(packet)) gop_.push_back(kept);
    else clear();  // no memory: this GOP cannot be decoded again
}

bool FullDecode::picture(int64_t pts, AVFrame* out) const {
    if (!stream_ || gop_.empty()) return false;
    const AVCodec* codec = avcodec_find_decoder(stream_->codec_id);
    AVCodecContext* decoder = codec ? avcodec_alloc_context3(codec) : nullptr;
    bool found = false;
    if (decoder && avcodec_parameters_to_context(decoder, stream_) >= 0 && (decoder->thread_count = 1) &&
        avcodec_open2(decoder, codec, nullptr) >= 0) {
        auto take = [&] {
            while (!found && avcodec_receive_frame(decoder, out) == 0) {
                if (out->best_effort_timestamp == pts) found = true;
                else av_frame_unref(out);
            }
        };
        for (const AVPacket* packet : gop_) {
            if (found) break;
            avcodec_send_packet(decoder, packet);  // a damaged one: the pictures after it are what they are
            take();
        }
        if (!found) {
            avcodec_send_packet(decoder, nullptr);
            take();
        }
    }
    avcodec_free_context(&decoder);
    return found;
}

}  // namespace qc
