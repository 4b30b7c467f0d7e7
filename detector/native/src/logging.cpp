#include "logging.hpp"

#include <atomic>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace qc::log {
namespace {
std::atomic<int> g_level{int(Level::Info)};
std::mutex g_mutex;
const char* kNames[] = {"DEBUG", "INFO", "WARNING", "ERROR"};
}  // namespace

void set_level(Level level) { g_level = int(level); }

bool set_level(const std::string& name) {
    for (int k = 0; k < 4; ++k)
        if (name == kNames[k]) { g_level = k; return true; }
    return false;
}

void write(Level level, const std::string& text) {
    if (int(level) < g_level) return;
    std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char stamp[16];
    std::strftime(stamp, sizeof stamp, "%H:%M:%S", &local);
    std::lock_guard<std::mutex> lock(g_mutex);
    std::fprintf(stderr, "%s native-detector %-7s %s\n", stamp, kNames[int(level)], text.c_str());
    std::fflush(stderr);
}

}  // namespace qc::log
