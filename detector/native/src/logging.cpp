#include "logging.hpp"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <mutex>
#include <thread>

namespace qc::log {
namespace {
std::atomic<int> g_level{int(Level::Info)};
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

// Standard error written by a thread of its own (common/logs.py's _StderrLines): a reader that stops reading (a
// terminal paused with Ctrl-S, `run_all.sh | less`, a stalled log shipper) filled the pipe, and every thread that
// logged blocked in its write, the capture loop among them: the camera blind, health green (FINDINGS #50). Lines
// wait here, up to kCapacity; beyond it they are left out (counted, said once stderr takes lines again).
namespace {
struct Lines {
    std::mutex mutex;
    std::condition_variable ready;
    std::deque<std::string> lines;
    bool writing = false;
    bool started = false;
    long left_out = 0;
};
constexpr size_t kCapacity = 1000;
constexpr double kFlushS = 2.0;

Lines& lines() {
    static Lines* shared = new Lines;  // never destroyed: the writer may still wait on it while the process ends
    return *shared;
}

std::string formatted(Level level, const std::string& text) {
    static const bool on_terminal = ::isatty(STDERR_FILENO);
    return (on_terminal ? terminal(level, text) : logfmt(level, text)) + "\n";
}

void write_lines() {
    Lines& q = lines();
    for (;;) {
        std::string line;
        {
            std::unique_lock<std::mutex> lock(q.mutex);
            while (q.lines.empty()) {
                q.writing = false;
                q.ready.notify_all();
                q.ready.wait(lock);
            }
            line = std::move(q.lines.front());
            q.lines.pop_front();
            q.writing = true;
        }
        // write(2), not stdio: a write blocked on a reader that stopped must hold no lock exit() takes (stdio's).
        for (size_t done = 0; done < line.size();) {
            ssize_t n = ::write(STDERR_FILENO, line.data() + done, line.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;  // closed or broken: nowhere to write it
            done += size_t(n);
        }
        long left_out = 0;
        {
            std::lock_guard<std::mutex> lock(q.mutex);
            left_out = q.left_out;
            q.left_out = 0;
        }
        if (left_out > 0)
            write(Level::Warning, cat("log: standard error takes lines again; ", left_out,
                                      " line(s) were left out of it while it was not read (lost: the native "
                                      "detector logs to stderr only)"));
    }
}

void flush_at_exit() { flush(kFlushS); }
}  // namespace

void flush(double max_s) {
    Lines& q = lines();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(max_s);
    std::unique_lock<std::mutex> lock(q.mutex);
    while ((!q.lines.empty() || q.writing) && q.ready.wait_until(lock, deadline) != std::cv_status::timeout) {
    }
}

void write(Level level, const std::string& text) {
    if (int(level) < g_level) return;
    std::string line = formatted(level, text);
    Lines& q = lines();
    {
        std::lock_guard<std::mutex> lock(q.mutex);
        if (!q.started) {
            q.started = true;
            // Every signal blocked in the writer (the mask is inherited, so set around its start): a line logged
            // before main's take_stop_signals (the open-files limit raised, a config note) started it with SIGTERM
            // open, and a SIGTERM the kernel gave this thread ended the detector at once (-15, nothing closed).
            sigset_t all, was;
            sigfillset(&all);
            ::pthread_sigmask(SIG_BLOCK, &all, &was);
            std::thread(write_lines).detach();
            ::pthread_sigmask(SIG_SETMASK, &was, nullptr);
            std::atexit(flush_at_exit);
        }
        if (q.lines.size() >= kCapacity) {
            ++q.left_out;  // said when stderr takes lines again: stderr is this detector's only log
        } else {
            q.lines.push_back(std::move(line));
            q.ready.notify_all();
        }
    }
}

}  // namespace qc::log
