// A segment encoder: I420 frames in (the sources' own format: no conversion), one self-contained MP4 file out, through FFmpeg's
// libraries directly (not OpenCV's writer, which cannot be given encoder options). H.264
// by libx264 with the Python encoder's settings (veryfast, CRF 26, zerolatency, one
// thread: small files, no frame delay, little memory); MPEG-4 part 2 ("mp4v") when
// recording.encoder says so or libx264 is missing.
#pragma once

#include <opencv2/core.hpp>
#include <string>

struct AVCodecContext;
struct AVFormatContext;
struct AVFrame;
struct AVPacket;
struct AVStream;

namespace qc {

class SegmentEncoder {
public:
    // Throws std::runtime_error naming the file and the failing step.
    SegmentEncoder(const std::string& path, int width, int height, double fps, const std::string& wanted);
    ~SegmentEncoder();
    SegmentEncoder(const SegmentEncoder&) = delete;
    SegmentEncoder& operator=(const SegmentEncoder&) = delete;

    void write(const cv::Mat& i420);  // height * 3 / 2 rows of width bytes
    void close();  // flush the encoder and finish the file
    const std::string& codec() const { return codec_; }

private:
    void encode(AVFrame* frame);
    void release();

    std::string path_, codec_;
    int width_, height_;
    long long next_pts_ = 0;
    bool closed_ = false;
    AVFormatContext* format_ = nullptr;
    AVCodecContext* context_ = nullptr;
    AVStream* stream_ = nullptr;
    AVFrame* frame_ = nullptr;
    AVPacket* packet_ = nullptr;
};

}  // namespace qc
