// An OS call that failed, with its errno, so that the disk ladder (disk.cpp) can tell a full or
// unwritable disk (held, retried, the camera goes on) from a bug (logged, the segment lost).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace qc {

struct OsError : std::runtime_error {
    int code;  // errno; 0 when unknown
    OsError(const std::string& what, int code) : std::runtime_error(what), code(code) {}
};

// A whole file's bytes, or an OsError naming the path and the errno (ENOENT: it is not there). A read
// that fails part way is an error, never a shorter file: std::ifstream took EIO for the end of the file,
// and the outbox sent a cut payload the uploader refused for good (size_mismatch).
inline std::string read_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) { int code = errno; throw OsError("cannot open " + path + ": " + std::strerror(code), code); }
    std::string data;
    char buf[1 << 16];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0) { data.append(buf, size_t(n)); continue; }
        if (n == 0) break;
        if (errno == EINTR) continue;
        int code = errno;
        ::close(fd);
        throw OsError("cannot read " + path + ": " + std::strerror(code), code);
    }
    ::close(fd);
    return data;
}

}  // namespace qc
