// The outbox: every snapshot and segment stays on disk until the uploader acks it.
// Same layout and journal as detector/outbox.py, so the reliability suite's invariant
// (tests/pipeline.py) applies unchanged:
//   <id>.bin        the payload, fsynced before its header exists
//   <id>.hdr        the msgpack header; its presence commits the item
//   .staging/       files being written (an open segment); cleared at start-up, but for a finished
//                   segment whose commit was cut short (its <id>.hdr beside it): committed then
//   refused/        items the uploader refused for good, kept for a person
//   produced.jsonl  one JSON line per committed item (id, type, camera, event, seq, time_ms,
//                   start_ms, end_ms, frames, size, sha256), null for absent fields
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "value.hpp"

namespace qc {

struct OutboxItem {
    std::string id, type;
    int64_t size = 0;
};

class Outbox {
public:
    // `lock_fd`: lock_outbox's, taken again by ensure_folders when its file is deleted (-1: none).
    explicit Outbox(const std::string& root, int lock_fd = -1);

    std::string staging_path(const std::string& name) { ensure_folders(); return staging_ + "/" + name; }
    // Make the folders again if something deleted them under the running detector (detector/outbox.py's
    // ensure_folders): the items that went with them are forgotten, one error line, recording goes on;
    // the lock is taken again.
    void ensure_folders();
    // Its folders and lock as made (a few stats): the status thread looks four times a second and calls
    // ensure_folders at once when not (detector/outbox.py's intact).
    bool intact();
    // Take a fully written staging file as the payload of `header` (fsync, rename, header last).
    void commit_file(const Value& header, const std::string& staged);
    // Where a segment's header waits beside it in staging while it is committed (outbox.py's staged_header).
    std::string staged_header_path(const std::string& id) const;
    void commit_bytes(const Value& header, const std::string& payload);
    // The header (re-encoded canonically) and payload of an item; false if it is gone. A file that will not
    // read (EACCES, EIO) throws OsError; a header that breaks the protocol, wire::ProtocolError.
    bool load(const std::string& id, std::string& header_bytes, std::string& payload);
    // An item load found gone: true if a file of it was deleted by hand (not acked, the outbox still there):
    // said, counted in deleted(), forgotten, what is left of it moved to refused/ (outbox.py's forget_missing).
    bool forget_missing(const std::string& id);
    std::vector<OutboxItem> pending();  // snapshots first, then oldest first
    bool holds(const std::string& id);
    void remove(const std::string& id, const std::string& keep_copy_in = "");
    void refuse(const std::string& id);
    std::pair<int64_t, int64_t> depth();  // items, payload bytes
    // How long the oldest item has waited unsent as of `now` (epoch seconds), 0 when none: its id begins with its
    // creation time in milliseconds (wire.cpp's new id). The health check reads it (outbox.py's oldest_s).
    double oldest_s(double now);
    // Call `listener` (from the committing thread) after each new item: the link sends at once instead of
    // looking for new items many times a second (detector/outbox.py's on_new_item).
    void on_new_item(std::function<void()> listener);
    // Items forgotten because their files were deleted under the running detector (status file: outbox.deleted).
    int64_t deleted() { std::lock_guard<std::mutex> lock(mutex_); return deleted_; }
    // Items moved to refused/ at start-up, their header unreadable (status file: outbox.refused, with the link's).
    int64_t set_aside() const { return set_aside_; }
    const std::string& root() const { return root_; }
    const std::string& refused_dir() const { return refused_; }

private:
    void recover();
    // Those of `ids` produced.jsonl names, read from its end back only as far as the oldest of them; false when it
    // cannot be read (outbox.py's _journaled).
    bool journaled(const std::set<std::string>& ids, std::set<std::string>& found);
    void commit_left(const std::filesystem::path& staged_header);  // a commit the last run cut short
    void journal_late(const Value& header);  // the line of an item committed by a run stopped before writing it
    void commit_header(const Value& header);
    void make_folders_again();
    void keep_lock();

    std::string root_, staging_, refused_;
    std::mutex mutex_;
    std::map<std::string, OutboxItem> items_;
    int64_t deleted_ = 0;
    int64_t set_aside_ = 0;  // written once, by recover() in the constructor
    std::vector<std::function<void()>> listeners_;
    int lock_fd_;
    std::mutex lock_mutex_;
    std::string lock_taken_by_;  // the other detector holding the lock now: said once
};

// Hold `<root>/.lock` (an flock, as detector/outbox.py's lock_outbox: one detector of either kind per
// outbox) for the life of the process; throws ConfigError naming the holder's pid.
int lock_outbox(const std::string& root);
// Write `data` to `path` durably: temp file, fsync, rename, fsync the folder.
void write_durably(const std::string& path, const std::string& data);
// Private folders (0700), made with parents.
void make_private_dirs(const std::string& path);

}  // namespace qc
