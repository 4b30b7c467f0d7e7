// The detector's status file, <outbox>/detector-status.json, in the format of
// detector/status_file.py (what `quickcam status` and `quickcam doctor` read): time, pid,
// monotonic, boot, running, interval_s, clock_ahead_s, cameras (each camera's status map, not_ok_for_s and
// not_ok_since when not ok), outbox {items, bytes, refused, over_budget},
// link {endpoint, connected, acked, retransmits, bad_status, unreadable, in_flight, last_error, last_error_at, error_cleared_at},
// status_write_failures (writes of this file that failed, counted in main.cpp). Built as a Value
// map, so a new field is one more line in main.cpp's collect().
#pragma once

#include <map>
#include <string>
#include <vector>

#include "value.hpp"

namespace qc {

std::string to_json(const Value& value);  // keys sorted, as json.dumps(sort_keys=True)
struct StatusWrite {
    bool ok = false;
    std::string error;     // why not (the errno's text), when not ok
    std::vector<std::string> moved_to;  // where directories standing at the file's name or its .part went
};

// Replace `path` atomically (temp file + rename); the caller logs a failure (once) with its reason.
// The file is padded with spaces to a multiple of 16 KiB, so when the disk is full or the folder
// refuses new files (the moment the status matters most) it is overwritten in place instead.
// A directory at `path` (or its temp name) refused every write while readers called the detector
// stale: it is moved aside to `<name>.replaced-<ns>`, kept, as common/durable.py's write_status does.
StatusWrite write_status(const std::string& path, const Value& status);

// This boot's id (/proc/sys/kernel/random/boot_id): with `monotonic` in the status file, a reader on
// the same boot takes the file's age from the monotonic clock (common/health.py's written_stamp), so
// a wall clock stepped back does not keep a dead detector "running" for the step.
std::string boot_id();

// Stamps each camera map in `cameras` whose state is not ok/ended with not_ok_for_s (measured on the
// monotonic clock) and not_ok_since (epoch seconds, the label for people), as
// detector/status_file.py's NotOkClock. The health check (common/health.py) gives a camera 30 s to
// reconnect.
class NotOkClock {
public:
    void stamp(Value& cameras, double now, double monotonic);

private:
    std::map<std::string, double> since_;
};

// How long the link to the uploader has been down as of each write (link.down_for_s; 0 while connected), as
// detector/status_file.py's DownClock: the health check fails footage waiting with the link down too long.
// A detector starts with its link down.
class DownClock {
public:
    explicit DownClock(double monotonic) : since_(monotonic) {}
    double down_for_s(bool connected, double monotonic);

private:
    double since_;  // < 0: connected
};

}  // namespace qc
