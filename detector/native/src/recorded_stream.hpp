// A camera's main stream beside its [camera] detect_path (detector/pipeline/packet_capture.py): `path` is only
// demuxed, in a thread of its own ("recorded stream"), never decoded; the capture thread decodes the
// low-resolution substream for detection and snapshots, and each of its frames takes path's packets shown up to
// its time (attach): the pre-roll and the recorder then remux them as any passthrough camera's.
//
// Both streams are timed on one clock (a stream's packets where they arrive, a file's on its own timeline from a
// start the two share). A file read as fast as possible is read at most kAheadNs past the frame detection waits
// for, and detection waits for the packets of its frame. Either stream lost is said: the substream as the camera
// lost (blind), path as the camera degraded ("recorded stream ... lost"), each reopened on its own. A path that
// cannot be passed through (another codec, keyframes too far apart) is not read at all: the substream's frames
// are recorded (re-encoded) instead, said once, as the Python detector does.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "av_source.hpp"
#include "camera.hpp"
#include "stop.hpp"
#include "supervise.hpp"

namespace qc {

class RecordedStream {
public:
    RecordedStream(const CameraConfig& config, Stop& stop);
    ~RecordedStream();
    void start(const std::string& owner);
    // The camera's capture has ended: stop reading (a read under way gives up at once).
    void finish();
    bool done() const { return done_; }
    std::thread& thread() { return thread_; }
    // Gives `frame` (the substream's) path's packets shown up to its time, as a passthrough frame; `wait` (a file
    // read as fast as possible): until they have been read. Does nothing once path is recorded by re-encoding: the
    // frame's own picture is recorded.
    void attach(Frame& frame, bool wait, Loop& beating);
    std::string mode() const;   // passthrough or reencode; "" before path has opened
    std::string fault() const;  // why path is not being read now ("" while it is, or once it is not to be)
    Loop& loop() { return loop_; }

private:
    static constexpr int64_t kAheadNs = 1'000'000'000;  // packet_capture.py's AHEAD_NS
    void run();
    bool open_with_backoff();
    void set_fault(const std::string& fault);

    CameraConfig config_;
    AvSource source_;
    Stop& stop_;
    Loop loop_;
    int failed_ = 0;   // failed opens in a row (the line that it opened again says how many)
    ReopenPace pace_;  // a stream that keeps going away soon after it opens waits before the next open
    std::thread thread_;
    std::atomic<bool> finished_{false}, done_{false};
    const int64_t keep_ns_;  // packets kept while no frame takes them (the substream down): the pre-roll's worth

    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<EncodedPacket> packets_;
    std::string mode_, fault_;
    bool ended_ = false;      // no more packets will come (a file's end, a file that would not open)
    int64_t newest_ns_ = 0;   // the latest packet's time shown
    int64_t wanted_ns_ = 0;   // the frame detection is at (a file read fast is read up to kAheadNs past it)
};

}  // namespace qc
