#include "keyframe_gate.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
}

namespace qc {

KeyframeGate::KeyframeGate(std::function<bool()> wanted, std::function<void()> damaged)
    : wanted_(std::move(wanted)), damaged_(std::move(damaged)) {}

KeyframeGate::~KeyframeGate() {
    clear();
    if (scratch_) av_frame_free(&scratch_);
}

void KeyframeGate::clear() {
    for (AVPacket*& packet : held_) av_packet_free(&packet);
    held_.clear();
    sparse_ = false;
}

bool KeyframeGate::skip(const AVPacket* packet, bool keyframe, AVCodecContext* decoder) {
    if (keyframe) {
        clear();
        sparse_ = !wanted_();
        return false;
    }
    if (!sparse_) return false;
    if (!wanted_()) {
        AVPacket* kept = av_packet_clone(packet);
        if (!kept) {  // no memory to keep it: decoded now instead, every frame from here
            catch_up(decoder);
            return false;
        }
        held_.push_back(kept);
        return true;
    }
    catch_up(decoder);  // motion: this GOP's references first, then every frame from this packet on
    return false;
}

void KeyframeGate::catch_up(AVCodecContext* decoder) {
    sparse_ = false;
    if (!scratch_) scratch_ = av_frame_alloc();
    for (AVPacket*& early : held_) {
        if (avcodec_send_packet(decoder, early) < 0) damaged_();  // the next keyframe recovers
        while (scratch_ && avcodec_receive_frame(decoder, scratch_) == 0) {  // past: not handed on
            if ((scratch_->flags & AV_FRAME_FLAG_CORRUPT) != 0 || scratch_->decode_error_flags != 0) damaged_();
            av_frame_unref(scratch_);
        }
        av_packet_free(&early);
    }
    held_.clear();
}

bool wants_every_frame(const CameraConfig& camera, const DetectionNeeds& now) {
    if (now.dark || now.pictures_recorded) return true;
    if (now.recording) return !(camera.event_keyframes_only && now.moving);
    return now.moving || !camera.idle_keyframes_only;
}

std::string keyframes_only_refusal(bool passthrough, const std::string& why_not_passthrough, bool live) {
    if (!passthrough)
        return "the camera is re-encoded (" + (why_not_passthrough.empty() ? std::string("record = reencode")
                                                                           : why_not_passthrough) +
               "), so every frame is decoded";
    if (!live) return "a file analysed as fast as possible (realtime = false) would run ahead of detection";
    return "";
}

}  // namespace qc
