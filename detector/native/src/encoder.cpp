#include "encoder.hpp"

#include <stdexcept>

#include "av_error.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libavutil/imgutils.h>
}

namespace qc {

SegmentEncoder::SegmentEncoder(const std::string& path, int width, int height, double fps, const std::string& wanted)
    : path_(path), width_(width), height_(height) {
    auto fail = [&](const std::string& step, int code = 0) {
        release();
        throw OsError("cannot write " + path + ": " + step + (code ? " (" + av_error_text(code) + ")" : ""),
                      code < 0 ? AVUNERROR(code) : 0);
    };
    av_log_set_level(AV_LOG_ERROR);
    const AVCodec* codec = wanted == "h264" ? avcodec_find_encoder_by_name("libx264") : nullptr;
    codec_ = codec ? "h264" : "mp4v";
    if (!codec) codec = avcodec_find_encoder(AV_CODEC_ID_MPEG4);
    if (!codec) fail("no H.264 or MPEG-4 encoder in this FFmpeg");
    if (avformat_alloc_output_context2(&format_, nullptr, "mp4", path.c_str()) < 0 || !format_) fail("no mp4 muxer");
    stream_ = avformat_new_stream(format_, nullptr);
    context_ = avcodec_alloc_context3(codec);
    if (!stream_ || !context_) fail("out of memory");
    AVRational rate = av_d2q(fps > 0 ? fps : 15.0, 1001);
    context_->width = width;
    context_->height = height;
    context_->time_base = av_inv_q(rate);
    context_->framerate = rate;
    context_->pix_fmt = AV_PIX_FMT_YUV420P;
    context_->gop_size = 1 << 16;  // one keyframe, the first: each segment plays on its own
    context_->thread_count = 1;
    if (format_->oformat->flags & AVFMT_GLOBALHEADER) context_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AVDictionary* options = nullptr;
    if (codec_ == "h264") {
        av_dict_set(&options, "preset", "veryfast", 0);
        av_dict_set(&options, "tune", "zerolatency", 0);
        av_dict_set(&options, "crf", "26", 0);
    } else {
        context_->flags |= AV_CODEC_FLAG_QSCALE;
        context_->global_quality = FF_QP2LAMBDA * 5;
    }
    int code = avcodec_open2(context_, codec, &options);
    av_dict_free(&options);
    if (code < 0) fail("the encoder would not open", code);
    avcodec_parameters_from_context(stream_->codecpar, context_);
    stream_->time_base = context_->time_base;
    if ((code = avio_open(&format_->pb, path.c_str(), AVIO_FLAG_WRITE)) < 0) fail("cannot create the file", code);
    if ((code = avformat_write_header(format_, nullptr)) < 0) fail("cannot write the MP4 header", code);
    frame_ = av_frame_alloc();
    packet_ = av_packet_alloc();
    if (!frame_ || !packet_) fail("out of memory");
    frame_->format = AV_PIX_FMT_YUV420P;
    frame_->width = width;
    frame_->height = height;
    if ((code = av_frame_get_buffer(frame_, 0)) < 0) fail("no frame buffer", code);
}

SegmentEncoder::~SegmentEncoder() { release(); }

void SegmentEncoder::write(const cv::Mat& i420) {
    if (i420.cols != width_ || i420.rows != height_ * 3 / 2 || i420.type() != CV_8UC1 || !i420.isContinuous())
        throw std::runtime_error("frame size or type differs from the segment's");
    int code = av_frame_make_writable(frame_);
    if (code < 0) throw_av_error("cannot write " + path_, code);
    size_t luma = size_t(width_) * height_;
    const uint8_t* planes[] = {i420.data, i420.data + luma, i420.data + luma * 5 / 4};
    const int strides[] = {width_, width_ / 2, width_ / 2};
    av_image_copy(frame_->data, frame_->linesize, planes, strides, AV_PIX_FMT_YUV420P, width_, height_);
    frame_->pts = next_pts_++;
    encode(frame_);
}

void SegmentEncoder::encode(AVFrame* frame) {
    int code = avcodec_send_frame(context_, frame);
    if (code < 0) throw_av_error("cannot encode into " + path_, code);
    while ((code = avcodec_receive_packet(context_, packet_)) == 0) {
        // One frame long (time base 1/fps). libx264 gives 0: the MP4's edit list then ended at the last frame's
        // start, and players (FFmpeg, PyAV) dropped that frame, one of every segment.
        if (packet_->duration <= 0) packet_->duration = 1;
        av_packet_rescale_ts(packet_, context_->time_base, stream_->time_base);
        packet_->stream_index = stream_->index;
        code = av_interleaved_write_frame(format_, packet_);  // takes the packet's reference
        if (code < 0) throw_av_error("cannot write " + path_, code);
    }
    if (code != AVERROR(EAGAIN) && code != AVERROR_EOF)
        throw_av_error("cannot encode into " + path_, code);
}

void SegmentEncoder::close() {
    if (closed_) return;
    closed_ = true;
    encode(nullptr);
    int code = av_write_trailer(format_);
    if (code < 0) throw_av_error("cannot finish " + path_, code);
    release();
}

void SegmentEncoder::release() {
    if (frame_) av_frame_free(&frame_);
    if (packet_) av_packet_free(&packet_);
    if (context_) avcodec_free_context(&context_);
    if (format_) {
        if (format_->pb) avio_closep(&format_->pb);
        avformat_free_context(format_);
    }
    format_ = nullptr;
    stream_ = nullptr;
}

}  // namespace qc
