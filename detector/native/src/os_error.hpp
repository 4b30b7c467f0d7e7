// An OS call that failed, with its errno, so that the disk ladder (disk.cpp) can tell a full or
// unwritable disk (held, retried, the camera goes on) from a bug (logged, the segment lost).
#pragma once

#include <stdexcept>
#include <string>

namespace qc {

struct OsError : std::runtime_error {
    int code;  // errno; 0 when unknown
    OsError(const std::string& what, int code) : std::runtime_error(what), code(code) {}
};

}  // namespace qc
