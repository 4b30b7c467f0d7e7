#include "logging.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>

namespace qc::log {
namespace {
std::atomic<int> g_level{int(Level::Info)};
std::mutex g_mutex;
const char* kNames[] = {"DEBUG", "INFO", "WARNING", "ERROR"};
const char* kLogfmtNames[] = {"debug", "info", "warning", "error"};

// The component a line is about, from its first word ("camera cam0: ...", "link: ..."): the logger's last part.
std::string component(const std::string& text) {
    size_t end = 0;
    while (end < text.size() && text[end] >= 'a' && text[end] <= 'z') ++end;
    bool named = end > 0 && end < text.size() && (text[end] == ':' || text.compare(0, end, "camera") == 0);
    return named ? "quickcam.native." + text.substr(0, end) : "quickcam.native";
}

// common/logs.py's _quote: one record, one line.
std::string quoted(const std::string& text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '\\' || c == '"') out += '\\', out += c;
        else if (c == '\n') out += "\\n";
        else if ((unsigned char)c < 0x20 || c == 0x7f) {  // no control character (a peer's words may hold one)
            char escaped[5];
            std::snprintf(escaped, sizeof escaped, "\\x%02x", (unsigned char)c);
            out += escaped;
        } else out += c;
    }
    return out + "\"";
}

// common/logs.py's LogfmtFormatter, when stderr is not a terminal (a service manager, Docker, a pipe):
// ts=2026-11-25T12:03:35.120Z proc=detector level=info logger=quickcam.native.camera msg="camera cam0: ..."
// (no ts under systemd: journald stamps lines itself).
std::string logfmt(Level level, const std::string& text) {
    static const bool stamped = std::getenv("JOURNAL_STREAM") == nullptr;
    std::string line;
    if (stamped) {
        auto now = std::chrono::system_clock::now();
        std::time_t seconds = std::chrono::system_clock::to_time_t(now);
        long ms = long(std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
        std::tm utc{};
        gmtime_r(&seconds, &utc);
        char stamp[40];
        size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
        std::snprintf(stamp + n, sizeof stamp - n, ".%03ldZ", ms);
        line = std::string("ts=") + stamp + " ";
    }
    return line + "proc=detector level=" + kLogfmtNames[int(level)] + " logger=" + component(text) +
           " msg=" + quoted(text);
}

// The terminal's line, as common/logs.py's: "12:03:35 native-detector INFO    camera cam0: motion ...".
std::string terminal(Level level, const std::string& text) {
    std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char stamp[16];
    std::strftime(stamp, sizeof stamp, "%H:%M:%S", &local);
    char head[48];
    std::snprintf(head, sizeof head, "%s native-detector %-7s ", stamp, kNames[int(level)]);
    return head + text;
}
}  // namespace

void set_level(Level level) { g_level = int(level); }

bool set_level(const std::string& name) {
    for (int k = 0; k < 4; ++k)
        if (name == kNames[k]) { g_level = k; return true; }
    return false;
}

void write(Level level, const std::string& text) {
    if (int(level) < g_level) return;
    static const bool on_terminal = ::isatty(STDERR_FILENO);
    std::string line = (on_terminal ? terminal(level, text) : logfmt(level, text)) + "\n";
    std::lock_guard<std::mutex> lock(g_mutex);
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
}

}  // namespace qc::log
