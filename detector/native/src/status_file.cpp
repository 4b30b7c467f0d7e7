#include "status_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace qc {

namespace {
void append_string(std::string& out, const std::string& s) {
    out += '"';
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') { out += '\\'; out += char(c); }
        else if (c < 0x20) { char buf[8]; std::snprintf(buf, sizeof buf, "\\u%04x", c); out += buf; }
        else out += char(c);
    }
    out += '"';
}

void append(std::string& out, const Value& v) {
    switch (v.kind) {
        case Value::Kind::Bool: out += v.b ? "true" : "false"; break;
        case Value::Kind::Int: out += std::to_string(v.i); break;
        case Value::Kind::Float: {
            if (!std::isfinite(v.f)) { out += "null"; break; }
            char buf[32];  // the shortest of %.15g..%.17g that reads back as the same double
            for (int digits = 15; digits <= 17; ++digits) {
                std::snprintf(buf, sizeof buf, "%.*g", digits, v.f);
                if (std::strtod(buf, nullptr) == v.f) break;
            }
            out += buf;
            if (std::string(buf).find_first_of(".eE") == std::string::npos) out += ".0";
            break;
        }
        case Value::Kind::Str: append_string(out, v.s); break;
        case Value::Kind::Array: {
            out += '[';
            for (size_t k = 0; k < v.a.size(); ++k) { if (k) out += ", "; append(out, v.a[k]); }
            out += ']';
            break;
        }
        case Value::Kind::Map: {
            out += '{';
            bool first = true;
            for (const auto& [key, x] : v.m) {
                if (!first) out += ", ";
                first = false;
                append_string(out, key);
                out += ": ";
                append(out, x);
            }
            out += '}';
            break;
        }
        default: out += "null";
    }
}
}  // namespace

std::string to_json(const Value& value) {
    std::string out;
    append(out, value);
    return out;
}

namespace {
// One try: the temp file, then the rename. 0, or the errno that stopped it (ENOSPC for a short write).
int replace(const std::string& tmp, const std::string& path, const std::string& text) {
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ssize_t n = fd >= 0 ? ::write(fd, text.data(), text.size()) : -1;
    int code = n == ssize_t(text.size()) ? 0 : n >= 0 ? ENOSPC : errno;  // a short write: the disk filled up
    if (fd >= 0) ::close(fd);
    if (code == 0 && std::rename(tmp.c_str(), path.c_str()) == 0) return 0;
    return code ? code : errno;
}

bool is_dir(const std::string& path) {
    struct stat st{};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string base_name(const std::string& path) { return path.substr(path.rfind('/') + 1); }
}  // namespace

StatusWrite write_status(const std::string& path, const Value& status) {
    constexpr size_t kReserveBytes = 16 * 1024;  // detector/status_file.py's RESERVE_BYTES
    std::string text = to_json(status);
    text.append((kReserveBytes - text.size() % kReserveBytes) % kReserveBytes, ' ');
    std::string tmp = path + ".part";
    StatusWrite result;
    int code = replace(tmp, path, text);
    // A directory in the way (of the file or its temp name, or one at each: the temp name's shows first, at the
    // write, the file's only at the rename): each moved aside, kept, in this same write (durable.py).
    while (code == EISDIR && result.moved_to.size() < 2) {
        std::string in_the_way = is_dir(tmp) ? tmp : path;
        if (!is_dir(in_the_way)) break;
        std::string aside = in_the_way + ".replaced-" + std::to_string(
            std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
        if (std::rename(in_the_way.c_str(), aside.c_str()) != 0) {
            result.error = "a directory stands at " + base_name(in_the_way) + " and cannot be moved aside: " +
                           std::strerror(errno);
            return result;
        }
        result.moved_to.push_back(base_name(aside));
        code = replace(tmp, path, text);
    }
    if (code == 0) {
        result.ok = true;
        return result;
    }
    if (!is_dir(tmp)) ::unlink(tmp.c_str());
    result.error = std::strerror(code);
    if (code != ENOSPC && code != EDQUOT && code != EACCES && code != EPERM) return result;
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || size_t(st.st_size) < text.size()) return result;
    int fd = ::open(path.c_str(), O_WRONLY);  // no new blocks needed: the old file's are reused
    if (fd < 0) {
        result.error = std::strerror(errno);
        return result;
    }
    ssize_t n = ::pwrite(fd, text.data(), text.size(), 0);
    result.ok = n == ssize_t(text.size()) && ::ftruncate(fd, off_t(text.size())) == 0;
    if (!result.ok) result.error = std::strerror(n >= 0 && n < ssize_t(text.size()) ? ENOSPC : errno);
    ::close(fd);
    return result;
}

void NotOkClock::stamp(Value& cameras, double now, double monotonic) {
    for (auto& [id, info] : cameras.m) {
        std::string state = info.has("state") && info.at("state").is(Value::Kind::Str) ? info.at("state").s : "";
        if (state == "ok" || state == "ended") {
            since_.erase(id);
            continue;
        }
        auto [at, _] = since_.emplace(id, monotonic);
        double for_s = monotonic - at->second;
        info["not_ok_for_s"] = Value::real(std::round(for_s * 10) / 10);
        info["not_ok_since"] = Value::real(now - for_s);
    }
}

double DownClock::down_for_s(bool connected, double monotonic) {
    if (connected) {
        since_ = -1;
        return 0;
    }
    if (since_ < 0) since_ = monotonic;
    return std::round((monotonic - since_) * 10) / 10;
}

std::string boot_id() {
    std::ifstream file("/proc/sys/kernel/random/boot_id");
    std::string id;
    std::getline(file, id);
    return id;  // "" where there is none: readers then take the age from `time`
}

}  // namespace qc
