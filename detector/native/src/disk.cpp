#include "disk.hpp"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "logging.hpp"
#include "os_error.hpp"

namespace qc {
namespace fs = std::filesystem;

namespace {
constexpr size_t kMaxHeldSnapshots = 512;  // two per event: its first and its newest
constexpr size_t kProbeBytes = 256 * 1024;
constexpr uint64_t kMinFreeBytes = 2 * 1024 * 1024;  // below this, a probe is not even tried
const char* const kRungWords[] = {"full recording", "recording reduced", "recording snapshots only"};

std::string words(int code) {
    if (code == ENOSPC || code == EDQUOT) return "DISK FULL";
    return code == EACCES || code == EPERM ? "OUTBOX NOT WRITABLE" : "DISK ERROR";
}

std::string item_name(const Value& header) {
    return header.at("type").s + " " + std::to_string(header.at("seq").i) + " of event " + header.at("event").s;
}

double steady_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

int disk_errno(const std::exception& error) {
    int code = 0;
    if (const auto* os = dynamic_cast<const OsError*>(&error)) code = os->code;
    else if (const auto* sys = dynamic_cast<const std::system_error*>(&error)) code = sys->code().value();
    for (int disk : {ENOSPC, EDQUOT, EIO, EROFS, EACCES, EPERM})
        if (code == disk) return code;
    return 0;
}

// -- writes ------------------------------------------------------------------------------

bool DiskWrites::commit_snapshot(const Value& header, const std::string& payload) {
    if (held_ == 0) return write_snapshot(header, payload);  // the usual case: no lock, detection never waits
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    if (flush()) return write_snapshot(header, payload);
    hold_snapshot(header, payload);  // behind what is held
    return false;
}

bool DiskWrites::write_snapshot(const Value& header, const std::string& payload) {
    try {
        outbox_.commit_bytes(header, payload);
        return true;
    } catch (const std::exception& e) {
        int code = disk_errno(e);
        if (!code) throw;
        std::lock_guard<std::recursive_mutex> lock(mutex_);
        failed(code, item_name(header));
        hold_snapshot(header, payload);
        return false;
    }
}

void DiskWrites::hold_snapshot(const Value& header, const std::string& payload) {
    // The first shows the onset (often the intruder's clearest moment, before they turn away);
    // the newest shows where the event is now. Those in between are given up, counted and logged.
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    const std::string& event = header.at("event").s;
    auto slot = [&](bool first) {
        return std::find_if(snapshots_.begin(), snapshots_.end(),
                            [&](const HeldSnapshot& h) { return h.event == event && h.first == first; });
    };
    bool first = slot(true) == snapshots_.end();  // else it is the event's newest
    if (auto older = slot(first); older != snapshots_.end()) {
        ++counts_.replaced;
        log::warning("camera ", camera_id_, ": snapshot ", older->header.at("seq").i, " of event ", event,
                     " was never written (the disk refused it) and is replaced in memory by the newer snapshot ",
                     header.at("seq").i, " (", counts_.replaced, " replaced so far)");
        snapshots_.erase(older);
    } else if (snapshots_.size() >= kMaxHeldSnapshots) {
        ++counts_.replaced;
        log::error("camera ", camera_id_, ": ", kMaxHeldSnapshots, " snapshots already held in memory; dropping ",
                   item_name(snapshots_.front().header));
        snapshots_.erase(snapshots_.begin());
    }
    snapshots_.push_back({event, first, header, payload});
    held_ = snapshots_.size() + segments_.size();
}

bool DiskWrites::commit_segment(const Value& header, const std::string& staged) {
    std::unique_lock<std::recursive_mutex> lock(mutex_, std::defer_lock);
    if (held_ != 0) {
        lock.lock();
        if (!flush()) {
            segments_.push_back({header, staged});
            held_ = snapshots_.size() + segments_.size();
            return false;
        }
    }
    return write_segment(header, staged);
}

bool DiskWrites::write_segment(const Value& header, const std::string& staged) {
    try {
        commit_staged(header, staged);
        return true;
    } catch (const std::exception& e) {
        int code = disk_errno(e);
        if (!code) throw;
        std::lock_guard<std::recursive_mutex> lock(mutex_);
        failed(code, item_name(header));
        step_down(code);
        segments_.push_back({header, staged});
        held_ = snapshots_.size() + segments_.size();
        return false;
    }
}

void DiskWrites::commit_staged(const Value& header, const std::string& staged) {
    std::string final_path = outbox_.root() + "/" + header.at("id").s + ".bin";
    try {
        outbox_.commit_file(header, staged);
    } catch (const std::exception&) {
        std::error_code ec;
        if (fs::exists(final_path, ec) && !fs::exists(staged, ec))
            fs::rename(final_path, staged, ec);  // back to staging: committed later, or cleared at start-up
        throw;
    }
}

bool DiskWrites::flush() {
    // Oldest first, snapshots before segments. An item that fails for another reason than the
    // disk (its staged file deleted with the outbox) is dropped with one line, not retried for ever.
    auto attempt = [&](auto&& write, const Value& header, const char* done) {
        try {
            write();
            log::warning("camera ", camera_id_, ": ", item_name(header), done);
            return true;
        } catch (const std::exception& e) {
            if (disk_errno(e)) return false;
            log::error("camera ", camera_id_, ": ", item_name(header), " held for the disk is lost (", e.what(), ")");
            return true;
        }
    };
    bool clear = true;
    while (clear && !snapshots_.empty()) {
        const HeldSnapshot& s = snapshots_.front();
        clear = attempt([&] { outbox_.commit_bytes(s.header, s.payload); }, s.header, " written from memory");
        if (clear) snapshots_.erase(snapshots_.begin());
    }
    while (clear && !segments_.empty()) {
        const HeldSegment& s = segments_.front();
        clear = attempt([&] { commit_staged(s.header, s.staged); }, s.header, " committed after the disk took it");
        if (clear) segments_.erase(segments_.begin());
    }
    held_ = snapshots_.size() + segments_.size();
    return clear;
}

// -- the rung ------------------------------------------------------------------------------

void DiskWrites::segment_failed(int code, int64_t frames_lost, const std::string& what) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    counts_.unrecorded += frames_lost;
    failed(code, what);
    step_down(code);
}

void DiskWrites::not_recorded(int64_t frames) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    counts_.unrecorded += frames;
}

void DiskWrites::step_down(int code) {
    if (rung_ == SnapshotsOnly) return;
    rung_ = Rung(rung_ + 1);
    problem_ = words(code);
    log::error("camera ", camera_id_, ": ", problem_, " (", std::strerror(code), "); ", kRungWords[rung_],
               rung_ == Reduced ? " (half size, reduced frame rate)" : "", "; ", counts_.failed,
               " write(s) failed so far; detection goes on, snapshots are kept in memory and written when there is "
               "room, full recording resumes by itself");
}

void DiskWrites::failed(int code, const std::string& what) {
    ++counts_.failed;
    if (problem_.empty()) problem_ = words(code);
    if (counts_.failed == 1 || counts_.failed % 50 == 0)
        log::error("camera ", camera_id_, ": ", words(code), ": cannot write ", what, " (", std::strerror(code), "); ",
                   counts_.failed, " write(s) failed so far");
}

void DiskWrites::recover() {
    if (rung_ == Full && held_ == 0) return;
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    double now = steady_s();
    if (now - probe_at_ < kProbeEveryS) return;
    probe_at_ = now;
    if (!flush() || rung_ == Full) {
        if (held_ == 0 && rung_ == Full) problem_.clear();
        return;
    }
    if (!probe()) return;
    log::warning("camera ", camera_id_, ": the disk takes writes again; full recording resumes (", counts_.failed,
                 " write(s) had failed, ", counts_.unrecorded, " frame(s) not recorded)");
    rung_ = Full;
    problem_.clear();
}

void DiskWrites::stop() {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    if (held_ == 0 || flush()) return;
    log::error("camera ", camera_id_, ": stopping with ", snapshots_.size(), " snapshot(s) held in memory (lost) and ",
               segments_.size(), " segment(s) in .staging/ (committed at the next start if their header could be "
               "written beside them, else discarded) that the disk still refuses");
    // counted as dropped, and for the stop's last line (disk.py's stop)
    counts_.replaced += int64_t(snapshots_.size());
    counts_.lost_at_stop += int64_t(snapshots_.size());
    snapshots_.clear();
    held_ = snapshots_.size() + segments_.size();
}

bool DiskWrites::probe() {
    struct statvfs st{};
    if (::statvfs(outbox_.root().c_str(), &st) != 0 || uint64_t(st.f_bavail) * st.f_frsize < kMinFreeBytes)
        return false;
    std::string path;
    try {
        path = outbox_.staging_path("probe-" + camera_id_);
    } catch (const std::exception&) {
        return false;
    }
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return false;
    std::string zeros(kProbeBytes, '\0');
    bool ok = ::write(fd, zeros.data(), zeros.size()) == ssize_t(zeros.size()) && ::fsync(fd) == 0;
    ::close(fd);
    ::unlink(path.c_str());
    return ok;
}

// -- status ------------------------------------------------------------------------------

DiskWrites::Counts DiskWrites::counts() {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    return counts_;
}

std::string DiskWrites::fault() {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    if (rung_ == Full && snapshots_.empty() && segments_.empty()) return "";
    std::string out = (problem_.empty() ? "DISK FULL" : problem_) + ", " + kRungWords[rung_];
    if (!snapshots_.empty() || !segments_.empty())
        out += ", " + std::to_string(snapshots_.size()) + " snapshot(s) and " + std::to_string(segments_.size()) +
               " segment(s) held until the disk takes them";
    return out + ", " + std::to_string(counts_.failed) + " write(s) failed";
}

}  // namespace qc
