// The record thread (detector/pipeline/record.py): an event's frames encoded into segments in
// .staging/, each committed through the disk ladder (disk.hpp), which decides the rung: full,
// reduced (half size, over_budget_fps) or snapshots only while the disk refuses writes. A passthrough
// camera's packets are remuxed instead (remux.hpp, passthrough.py): each segment at least segment_s, cut
// at the next keyframe; a gap in the packets ends a segment and the next starts at a keyframe; the reduced
// rung keeps keyframes only.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <opencv2/imgproc.hpp>

#include "camera.hpp"
#include "clock.hpp"
#include "encoder.hpp"
#include "error_text.hpp"
#include "logging.hpp"
#include "os_error.hpp"
#include "remux.hpp"
#include "wire.hpp"

namespace qc {

namespace {
// A segment file being written in the outbox's staging folder.
struct OpenSegment {
    std::string id, path;
    std::unique_ptr<SegmentEncoder> encoder;  // a re-encoded segment's, else
    std::unique_ptr<SegmentRemuxer> remuxer;  // a passthrough one's
    int width, height;
    double fps;
    int64_t max_ns, frames = 0, start_ns = 0, end_ns = 0;
    bool reduced = false;  // the full disk's reduced rung: half size, at most over_budget_fps
    int64_t next_ns = 0;   // reduced: the next frame kept is one at or after this time

    int64_t duration_ns() const { return end_ns - start_ns + int64_t(1e9 / fps); }
    void close() { encoder ? encoder->close() : remuxer->close(); }
    const std::string& codec() const { return encoder ? encoder->codec() : remuxer->codec(); }
    // A reduced segment keeps one frame per 1/fps of the camera's frames.
    bool keeps(int64_t time_ns) {
        if (!reduced) return true;
        if (time_ns < next_ns) return false;
        next_ns = (next_ns == 0 ? time_ns : next_ns) + int64_t(1e9 / fps);
        return true;
    }
};

// The camera's own format, or on the reduced rung the Python budget policy's (detector/outbox.py
// budget_format): half the width and height (even), at most over_budget_fps, and as many frames per
// segment as a full one (up to 60 s), since every segment starts with a costly keyframe.
std::unique_ptr<OpenSegment> open_segment(Outbox& outbox, const RecordingConfig& rec, int width, int height, double fps,
                                          bool reduced, const std::string& encoder) {
    static std::atomic<bool> warned_h264{false};
    auto seg = std::make_unique<OpenSegment>();
    seg->id = wire::new_message_id();
    seg->path = outbox.staging_path(seg->id + ".mp4");
    double seconds = rec.segment_s;
    if (reduced) {
        double rate = std::min(fps, rec.over_budget_fps);
        seconds = std::max(rec.segment_s, std::min(60.0, rec.segment_s * fps / rate));
        width = std::max(16, width / 4 * 2), height = std::max(16, height / 4 * 2), fps = rate;
    }
    seg->width = width, seg->height = height, seg->fps = fps, seg->reduced = reduced;
    seg->max_ns = int64_t(seconds * 1e9);
    seg->encoder = std::make_unique<SegmentEncoder>(seg->path, width, height, fps, encoder);
    if (encoder == "h264" && seg->encoder->codec() != "h264" && !warned_h264.exchange(true))
        log::warning("H.264 encoder (libx264) unavailable in this FFmpeg; falling back to mp4v");
    ::chmod(seg->path.c_str(), 0600);
    return seg;
}

// A passthrough segment of `packet`'s stream; on the reduced rung as many seconds as the re-encoded one's
// (its keyframes only are kept).
std::unique_ptr<OpenSegment> open_remuxed(Outbox& outbox, const RecordingConfig& rec, const EncodedPacket& packet,
                                          bool reduced) {
    auto seg = std::make_unique<OpenSegment>();
    seg->id = wire::new_message_id();
    seg->path = outbox.staging_path(seg->id + ".mp4");
    const StreamParams& stream = *packet.stream;
    double fps = stream.fps > 0 ? stream.fps : 15.0, seconds = rec.segment_s;
    if (reduced) seconds = std::max(rec.segment_s, std::min(60.0, rec.segment_s * fps / std::min(fps, rec.over_budget_fps)));
    seg->width = stream.width, seg->height = stream.height, seg->fps = fps, seg->reduced = reduced;
    seg->max_ns = int64_t(seconds * 1e9);
    seg->remuxer = std::make_unique<SegmentRemuxer>(seg->path, packet.stream);
    ::chmod(seg->path.c_str(), 0600);
    return seg;
}

// Why `lost` frames of an event were not recorded, `refused` of them by the disk (record.py's unrecorded_words).
std::string unrecorded_words(int64_t lost, int64_t refused) {
    if (refused >= lost) return "the disk refused them";
    if (!refused) return "lost to the failures logged above";
    return "the disk refused " + std::to_string(refused) + ", the others were lost to the failures logged above";
}

// What is kept of an event with no segment (record.py's EventSnapshots.words).
std::string snapshot_words(int kept, int failed) {
    if (!failed) return kept ? "its " + std::to_string(kept) + " snapshot(s) are kept" : "it has no snapshot: nothing of it is kept";
    if (kept) return std::to_string(kept) + " of its snapshot(s) are kept, " + std::to_string(failed) + " failed";
    return "its " + std::to_string(failed) + " snapshot(s) failed too: nothing of it is kept";
}

}  // namespace

// What the recorder holds between frames, kept across a restart of its loop (record.py's RecordStage
// keeps it on the object): the event carries on, its segments numbered on from where they were.
struct CameraPipeline::RecordState {
    std::unique_ptr<OpenSegment> segment;
    std::string event_id;
    int seq = 0;
    int64_t lost = 0, refused = 0;  // the event's frames not recorded, and of those the ones the disk refused
    bool stopped = false;  // Item::Stop taken: a loop restarted after it (what followed threw) waits for nothing
    bool event_open = false;  // between an event's Start and its End
    int64_t previous_index = -1;  // passthrough: the last packet's index (a gap: packets lost, or a reopen)
    int64_t skipped = 0;  // passthrough: the event's packets before its first keyframe, not recorded
    int64_t encoder_failures = 0;  // segments whose encoder failed on a frame, since start (said once)
    int64_t encoder_retried = 0;  // of the event, frames an encoder failed on, written into a new segment
    // The segment being closed and committed (its id, frames and name), for the stop's words if it ends first.
    std::mutex closing_mutex;
    std::string closing_id, closing_what;
    int64_t closing_frames = 0;
    std::atomic<int64_t> open_frames{0};  // the open segment's frames (0: none open), for the same words
    // A write failing on every frame for a cause that is no disk's (the outbox's folder gone for good, with the one
    // the detector runs in): a line a frame, 235 in 20 s (FINDINGS #55); now once a minute (common/said_every.py).
    double failed_said_at = -1e18;
    int64_t failed_unsaid = 0;
};

// At the stop's end with the recorder still running (record.py's left_at_exit): a segment whose commit has begun has
// its header beside it in staging, and the next start commits it; one still being closed or written is lost, counted.
std::string CameraPipeline::recording_left() {
    std::lock_guard<std::mutex> lock(record_->closing_mutex);
    if (record_->closing_id.empty()) {
        int64_t frames = record_->open_frames;
        if (!frames) return "";
        disk_.not_recorded(frames);
        return "its open segment (" + std::to_string(frames) + " frame(s)) was still being written: lost, counted in "
               "not_recorded";
    }
    std::string what = record_->closing_what + " (" + std::to_string(record_->closing_frames) + " frame(s))";
    if (::access(outbox_.staged_header_path(record_->closing_id).c_str(), F_OK) == 0) {
        ++staged_at_exit_;
        return what + " was still being committed (a disk that does not answer?): it stays in .staging/ with its "
                      "header and the next start commits it";
    }
    disk_.not_recorded(record_->closing_frames);
    return what + " was still being closed: lost, counted in not_recorded";
}

std::shared_ptr<CameraPipeline::RecordState> CameraPipeline::make_record_state() {
    return std::make_shared<RecordState>();
}

void CameraPipeline::record_loop() {
    // Restarted after taking the Stop item (finish() or disk_.stop() threw): no second Stop comes, and a
    // wait for one hung join() at the detector's stop for ever.
    if (record_->stopped) return;
    std::unique_ptr<OpenSegment>& segment = record_->segment;
    std::string& event_id = record_->event_id;
    int& seq = record_->seq;
    auto what = [&] { return "segment " + std::to_string(seq) + " of event " + event_id; };
    // A failure loses only the open segment (its file goes) and the frame at hand; a disk error
    // steps the ladder down, anything else is one error line.
    auto abandon = [&](const std::exception& e, int64_t lost, const char* failing) {
        std::string path = segment ? segment->path : "";
        segment.reset();
        record_->open_frames = 0;
        if (!path.empty()) ::unlink(path.c_str());
        record_->lost += lost;
        if (int code = disk_errno(e)) {
            record_->refused += lost;
            disk_.segment_failed(code, lost, what());
        } else {
            disk_.not_recorded(lost);
            double now = monotonic_s();
            if (now - record_->failed_said_at < 60.0) {
                ++record_->failed_unsaid;
                return;
            }
            std::string more = record_->failed_unsaid
                                   ? " (" + std::to_string(record_->failed_unsaid) + " more time(s) since the last line)"
                                   : "";
            record_->failed_said_at = now, record_->failed_unsaid = 0;
            log::error("camera ", config_.id, ": ", failing, " ", what(), " failed (", e.what(), "); ", lost,
                       " frame(s) lost; starting a new segment", more);
        }
    };
    auto finish = [&](bool final) {  // close the open segment and commit it (or hold it); seq moves on
        struct Closing {  // named for the stop's words while it lasts (recording_left)
            RecordState& state;
            Closing(RecordState& s, const std::string& id, const std::string& what, int64_t frames) : state(s) {
                std::lock_guard<std::mutex> lock(state.closing_mutex);
                state.closing_id = id, state.closing_what = what, state.closing_frames = frames;
            }
            ~Closing() {
                std::lock_guard<std::mutex> lock(state.closing_mutex);
                state.closing_id.clear();
            }
        } closing(*record_, segment->id, what(), segment->frames);
        Value header = wire::make_header("segment");
        try {
            segment->close();
            std::string data = read_file(segment->path);  // a read error loses this segment, said
            header["id"] = Value::text(segment->id);
            header["camera"] = Value::text(config_.id);
            header["event"] = Value::text(event_id);
            header["seq"] = Value::integer(seq);
            header["final"] = Value::boolean(final);
            header["start_ms"] = Value::integer(segment->start_ns / 1000000);
            header["end_ms"] = Value::integer(segment->end_ns / 1000000);
            header["frames"] = Value::integer(segment->frames);
            header["fps"] = Value::real(segment->fps);
            header["width"] = Value::integer(segment->width);
            header["height"] = Value::integer(segment->height);
            header["container"] = Value::text("mp4");
            header["codec"] = Value::text(segment->codec());
            header["content_type"] = Value::text("video/mp4");
            header["size"] = Value::integer(int64_t(data.size()));
            header["sha256"] = Value::text(wire::sha256_hex(data));
            header["faces"] = Value::array();
        } catch (const std::exception& e) {
            abandon(e, segment->frames, "closing");
            return false;
        }
        std::string path = segment->path;
        segment.reset();
        record_->open_frames = 0;
        try {
            disk_.commit_segment(header, path);
        } catch (const std::exception& e) {
            disk_.not_recorded(header.at("frames").i);
            record_->lost += header.at("frames").i;
            log::error("camera ", config_.id, ": committing ", what(), " failed (", e.what(), "); ",
                       header.at("frames").i, " frame(s) lost");
            return false;
        }
        ++seq;
        return true;
    };
    // A passthrough frame's packets (passthrough.py's PassthroughStage._record): remuxed; a segment starts
    // only at a keyframe, so packets before the event's first one are skipped and those after a gap lost.
    auto remux = [&](const Frame& frame) {
        if (segment && segment->encoder) finish(false);  // re-encoded frames before: keyframes came back
        for (const EncodedPacket& packet : frame.packets) {
            bool gap = record_->previous_index >= 0 && packet.index != record_->previous_index + 1;
            record_->previous_index = packet.index;
            if (segment && !segment->remuxer->follows(packet)) gap = true;  // another open
            auto rung = disk_.rung();
            if (rung == DiskWrites::SnapshotsOnly) {
                if (segment) finish(false);
                disk_.not_recorded();
                ++record_->lost, ++record_->refused;
                continue;
            }
            if (segment && (gap || (segment->reduced && rung == DiskWrites::Full))) finish(false);
            bool reduced = rung == DiskWrites::Reduced || (segment && segment->reduced);
            if (!packet.keyframe && (!segment || reduced)) {
                if (reduced) continue;  // reduced recording: one picture per keyframe interval, by design
                if (seq == 0 && !record_->lost) {
                    ++record_->skipped;
                } else {  // after a gap: undecodable until the next keyframe
                    ++record_->lost;
                    disk_.not_recorded();
                }
                continue;
            }
            try {
                if (segment && packet.keyframe && segment->duration_ns() >= segment->max_ns) finish(false);
                if (!segment) segment = open_remuxed(outbox_, config_.recording, packet, rung == DiskWrites::Reduced);
                segment->remuxer->write(packet);
                if (segment->frames == 0) segment->start_ns = segment->end_ns = packet.pts_ns;
                segment->start_ns = std::min(segment->start_ns, packet.pts_ns);
                segment->end_ns = std::max(segment->end_ns, packet.pts_ns);
                record_->open_frames = segment->frames + 1;
                if (++segment->frames > 1 && segment->reduced)  // the rate kept, not the camera's
                    segment->fps = double(segment->frames - 1) * 1e9 / double(std::max<int64_t>(1, segment->end_ns - segment->start_ns));
            } catch (const std::exception& e) {
                abandon(e, 1 + (segment ? segment->frames : 0), "remuxing");
            }
        }
    };
    auto record = [&](const Frame& frame) {
        if (frame.passthrough) return remux(frame);
        if (segment && segment->remuxer) finish(false);  // passthrough until now: keyframes stopped coming
        // Cut first: closing a segment may be the write the disk refuses, which sets the rung for this frame.
        if (segment && segment->duration_ns() >= segment->max_ns) finish(false);
        if (segment && segment->reduced && disk_.rung() == DiskWrites::Full) finish(false);  // full again from here
        auto rung = disk_.rung();
        if (rung == DiskWrites::SnapshotsOnly) {
            if (segment) finish(false);
            disk_.not_recorded();
            ++record_->lost, ++record_->refused;
            return;
        }
        auto put = [&](const std::string& encoder) {
            double fps = source_->fps > 0 ? source_->fps : config_.fps;
            if (!segment)
                segment = open_segment(outbox_, config_.recording, frame.width, frame.height, fps,
                                       rung == DiskWrites::Reduced, encoder);
            if (!segment->keeps(frame.time_ns)) return;
            if (segment->frames == 0) segment->start_ns = frame.time_ns;
            cv::Mat image = frame.yuv;
            if (frame.width != segment->width || frame.height != segment->height) {  // reduced, or a stream changed size
                cv::Mat bgr;
                cv::resize(frame.bgr(), bgr, cv::Size(segment->width, segment->height), 0, 0, cv::INTER_AREA);
                cv::cvtColor(bgr, image, cv::COLOR_BGR2YUV_I420);
            }
            segment->encoder->write(image);
            segment->end_ns = frame.time_ns;
            record_->open_frames = ++segment->frames;
        };
        try {
            put(config_.recording.encoder);
        } catch (const std::exception& e) {
            if (disk_errno(e)) return abandon(e, 1 + (segment ? segment->frames : 0), "encoding");
            // The encoder failed (libx264 under memory pressure: its open at a segment's first frame, or an encode):
            // the segment's frames so far are committed and this frame starts a new segment in the next encoder
            // (mp4v after H.264), as record.py's _encoder_failed. It was lost, with the segment before it.
            if (++record_->encoder_failures == 1)
                log::warning("camera ", config_.id, ": the ", config_.recording.encoder, " encoder failed (", e.what(),
                             "); the frame goes into a new segment",
                             config_.recording.encoder == "h264" ? " in mp4v" : "", ", no frame lost; further failures "
                             "are counted in the event's last line and quickcam status");
            {  // for the camera's status line while recent (encoders.py's status_note)
                std::lock_guard<std::mutex> lock(stats_mutex_);
                stats_.encoder_failures = record_->encoder_failures;
                stats_.encoder_failed_why = error_text(e.what(), kErrorTextMax);
                stats_.encoder_failed_at =
                    std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
            }
            if (segment && segment->frames) {
                finish(false);  // a failure here is counted and said by finish
            } else if (segment) {
                ::unlink(segment->path.c_str());
                segment.reset();
                record_->open_frames = 0;
            }
            try {
                put(config_.recording.encoder == "h264" ? "mp4v" : config_.recording.encoder);
                ++record_->encoder_retried;
            } catch (const std::exception& again) {
                abandon(again, 1 + (segment ? segment->frames : 0), "encoding");
            }
        }
    };
    auto retried = [&] {  // the event's encoder failures, for its last line (record.py's _event_done)
        if (!record_->encoder_retried) return std::string();
        return "; the encoder failed on " + std::to_string(record_->encoder_retried) + " frame(s), each written into "
               "a new segment (" + std::to_string(record_->encoder_failures) + " failure(s) since start)";
    };
    auto queued = [&] { return !queue_.empty(); };
    while (true) {
        recording_.beat();  // a write or an encode that hangs stops it
        disk_.recover();  // what a full disk refused, written once it takes writes (two atomic loads when not)
        Item item;
        {
            std::unique_lock<std::mutex> lock(queue_mutex_);
            if (!queued()) {
                if (disk_.settled()) {  // nothing to retry: asleep until capture hands over an item (Stop at a stop)
                    Loop::Waiting waiting(recording_);
                    queue_cv_.wait(lock, queued);
                } else if (!queue_cv_.wait_for(lock, std::chrono::milliseconds(100), queued)) {
                    continue;  // recover() at least every 0.1 s while the disk holds something back
                }
            }
            item = std::move(queue_.front());
            queue_.pop_front();
            if (item.kind == Item::FrameItem) --queued_frames_;
            queue_cv_.notify_all();
        }
        if (item.kind == Item::Stop) {
            record_->stopped = true;
            break;
        }
        if (item.kind == Item::Start) {
            event_id = item.event_id, seq = 0;
            record_->event_open = true;
            record_->previous_index = -1, record_->skipped = 0;
            record_->lost = record_->refused = 0;
            segment.reset();
            record_->open_frames = 0;
        } else if (item.kind == Item::End) {
            record_->event_open = false;
            if (segment) finish(true);
            if (record_->skipped)
                log::info("camera ", config_.id, ": event ", event_id, ": ", record_->skipped,
                          " packet(s) before its first keyframe not recorded");
            int64_t lost = record_->lost;
            std::string why = unrecorded_words(lost, record_->refused);
            // what is left of the event, truly (record.py's _event_done): it said "recorded in 0 segment(s)" when
            // every segment had failed
            if (!item.cut.empty())
                log::warning("camera ", config_.id, item.cut, " during event ", event_id,
                             "; the event is closed at the last frame (", seq, " segments)");
            else if (seq > 0 && lost)
                log::info("camera ", config_.id, ": event ", event_id, " recorded in ", seq, " segment(s); ", lost,
                          " frame(s) not recorded (", why, ")", retried());
            else if (seq > 0)
                log::info("camera ", config_.id, ": event ", event_id, " recorded in ", seq, " segment(s)", retried());
            else if (lost && item.snapshots_kept)
                log::warning("camera ", config_.id, ": event ", event_id, ": no segment recorded (", lost, " frame(s) "
                             "not recorded: ", why, "); ", snapshot_words(item.snapshots_kept, item.snapshots_failed));
            else if (lost)
                log::error("camera ", config_.id, ": event ", event_id, ": no segment recorded (", lost, " frame(s) "
                           "not recorded: ", why, "); ", snapshot_words(item.snapshots_kept, item.snapshots_failed));
            else
                log::warning("camera ", config_.id, ": event ", event_id, " ended with no frame recorded");
            record_->lost = record_->refused = 0;
            record_->encoder_retried = 0;
        } else {
            record(item.frame);
        }
    }
    // A Stop before the event's End: the capture thread was given up at the detector's stop, stuck in a read
    // (give_up_capture). The event ends with the frames handed over; its open segment is committed as its last.
    if (record_->event_open) {
        record_->event_open = false;
        if (segment) finish(true);
        log::warning("camera ", config_.id, ": capture stuck at the stop during event ", event_id,
                     "; the event is closed at the last frame recorded (", seq, " segments)");
    }
    if (segment) finish(true);  // never lose frames
    disk_.stop();
}

}  // namespace qc
