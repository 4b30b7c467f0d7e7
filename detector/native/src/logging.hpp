// Log lines on stderr, in the Python processes' formats (common/logs.py): on a terminal
// "12:03:35 native-detector INFO    camera cam0: motion ..."; otherwise (a service manager, Docker,
// a pipe) one logfmt line a record, with the same keys:
// ts=2026-11-25T12:03:35.120Z proc=detector level=info logger=quickcam.native.camera msg="camera cam0: motion ..."
// Thread-safe.
#pragma once

#include <sstream>
#include <string>

namespace qc::log {

enum class Level { Debug = 0, Info = 1, Warning = 2, Error = 3 };

void set_level(Level level);
bool set_level(const std::string& name);  // DEBUG, INFO, WARNING, ERROR; false if unknown
void write(Level level, const std::string& text);  // queued for a writer thread: never waits on stderr's reader
void flush(double max_s);  // waits up to max_s for the lines queued to be written (at exit, and before _exit)

template <typename... Parts>
std::string cat(const Parts&... parts) {
    std::ostringstream out;
    (out << ... << parts);
    return out.str();
}

template <typename... Parts> void debug(const Parts&... p) { write(Level::Debug, cat(p...)); }
template <typename... Parts> void info(const Parts&... p) { write(Level::Info, cat(p...)); }
template <typename... Parts> void warning(const Parts&... p) { write(Level::Warning, cat(p...)); }
template <typename... Parts> void error(const Parts&... p) { write(Level::Error, cat(p...)); }

}  // namespace qc::log
