// Free text bound for a status (common/protocol_schema.py's cut_utf8 and error_text).
//
// An exception's words or a peer's reason have no limit of their own: kept as they were, a long one
// pushed a status past the protocol's header limit (the minimal fallback status was sent instead)
// and broke `quickcam status` lines. error_text() gives the same bytes as the Python detector's.
#pragma once

#include <cstddef>
#include <string>

namespace qc {

constexpr size_t kErrorTextMax = 240;  // bytes (UTF-8): a loop's last_error, the link's (ERROR_TEXT_MAX)

// The first `limit` bytes of `text` without splitting a UTF-8 character (a cut one is invalid text,
// and the uploader refuses the whole status).
std::string cut_utf8(const std::string& text, size_t limit);

// `text` with each ill-formed run of bytes (a path's bytes that are not UTF-8) as U+FFFD, as Python's
// decode(errors="replace"): quoted in a status whole, they made it invalid UTF-8, which the uploader refuses.
std::string valid_utf8(const std::string& text);

// `text` (a path, a URL) in at most `limit` bytes, a longer one cut in its middle with "…" (its start, the
// folder, and its end, the file's name, still tell which it is): said whole in a camera's fault, a long
// path pushed the fix after it past the fault's limit. The same bytes as protocol_schema.py's middle_cut.
std::string middle_cut(const std::string& text, size_t limit);

// `text` on one line (every run of control characters, line breaks and tabs among them, becomes one
// space; spaces at either end dropped), at most `limit` bytes, a longer one cut and ended with "…".
std::string error_text(const std::string& text, size_t limit = kErrorTextMax);

}  // namespace qc
