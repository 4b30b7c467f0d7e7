// Writing footage when the disk may be full or refuse writes (detector/pipeline/disk.py, the spec):
// full recording, then reduced, then snapshots only; what is refused is held, never lost.
//
// A write refused with ENOSPC, EDQUOT, EIO, EROFS, EACCES or EPERM never ends a thread:
// - a snapshot is held in memory: each event's first (onset) one and its newest (one in
//   between that the newest replaces is counted and logged), written before any segment;
// - a finished segment whose commit fails stays in .staging/ and is committed later;
// - a failed segment write steps recording down a rung: full -> reduced (half size, at
//   most recording.over_budget_fps) -> snapshots only; the frames not recorded are counted.
// Every kProbeEveryS the recorder calls recover(): what is held is written, then a probe
// write is tried; once it works, full recording resumes with the next frame.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <string>
#include <vector>

#include "outbox.hpp"
#include "value.hpp"

namespace qc {

// The disk errno (full, over quota, I/O error, read-only, not writable by us) behind `error`, or 0.
int disk_errno(const std::exception& error);

class DiskWrites {
public:
    enum Rung { Full = 0, Reduced = 1, SnapshotsOnly = 2 };
    static constexpr double kProbeEveryS = 0.5;

    DiskWrites(std::string camera_id, Outbox& outbox) : camera_id_(std::move(camera_id)), outbox_(outbox) {}

    // Write a snapshot, or hold it in memory if the disk refuses; true if written now.
    bool commit_snapshot(const Value& header, const std::string& payload);
    // Commit a finished segment, or hold it in staging to retry; true if committed now.
    bool commit_segment(const Value& header, const std::string& staged);
    // A segment could not be written (`code` a disk errno): counted, one rung down.
    void segment_failed(int code, int64_t frames_lost, const std::string& what);
    void not_recorded(int64_t frames = 1);
    void recover();  // cheap when there is nothing to do; call it often
    // Nothing held and full recording: recover() has nothing to do until a write is refused again.
    bool settled() const { return rung_ == Full && held_ == 0; }
    void stop();  // a last try at what is held; what the disk still refuses is named in one error line
    Rung rung() const { return rung_; }

    // lost_at_stop: snapshots still held in memory at the stop (also counted in replaced: dropped)
    struct Counts { int64_t failed = 0, unrecorded = 0, replaced = 0, lost_at_stop = 0; };
    Counts counts();
    // "" while writing works; else the status words ("DISK FULL, recording snapshots only, 3 write(s) failed").
    std::string fault();

private:
    struct HeldSnapshot { std::string event; bool first; Value header; std::string payload; };
    struct HeldSegment { Value header; std::string staged; };

    bool write_snapshot(const Value& header, const std::string& payload);  // throws a non-disk error
    bool write_segment(const Value& header, const std::string& staged);
    void commit_staged(const Value& header, const std::string& staged);
    void hold_snapshot(const Value& header, const std::string& payload);
    bool flush();  // write what is held, oldest first; true if nothing is left (lock held)
    void failed(int code, const std::string& what);  // lock held
    void step_down(int code);  // lock held
    bool probe();

    std::string camera_id_;
    Outbox& outbox_;
    std::recursive_mutex mutex_;
    std::atomic<Rung> rung_{Full};
    std::atomic<size_t> held_{0};  // snapshots + segments held: the usual case writes without the lock
    Counts counts_;
    std::string problem_;  // "DISK FULL" / "DISK ERROR" / "OUTBOX NOT WRITABLE" while there is one
    std::vector<HeldSnapshot> snapshots_;
    std::vector<HeldSegment> segments_;
    double probe_at_ = 0;
};

}  // namespace qc
