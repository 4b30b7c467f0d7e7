// FFmpeg's failures as OsError (os_error.hpp), for the segment writers (encoder.cpp, remux.cpp).
#pragma once

#include <string>

#include "os_error.hpp"

extern "C" {
#include <libavutil/error.h>
}

namespace qc {

inline std::string av_error_text(int code) {
    char text[AV_ERROR_MAX_STRING_SIZE] = {0};
    av_strerror(code, text, sizeof text);
    return text;
}

// FFmpeg's error codes carry the errno (AVERROR(e) is -e), so a full disk is told from a bug.
[[noreturn]] inline void throw_av_error(const std::string& what, int code) {
    throw OsError(what + (code ? ": " + av_error_text(code) : std::string()), code < 0 ? AVUNERROR(code) : 0);
}

}  // namespace qc
