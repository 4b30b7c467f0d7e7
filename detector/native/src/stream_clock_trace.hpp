// --stream-clock: the stream clock alone (stream_clock.hpp), driven by calls read from stdin, one JSON
// object a line; one JSON line answers each on stdout. tests/test_native_stream_clock.py makes the same
// calls on detector/stream_clock.py (the spec) and compares the answers.
#pragma once

#include <istream>
#include <ostream>

namespace qc {

// Calls (ns are integers; null where the Python side takes None):
//   {"op": "restart", "anchor_ns": N|null, "latest_ns": N}                      -> {}
//   {"op": "wall_ns", "stream_ns": N, "latest_ns": N, "frame_ns": N,
//    "arrived": bool, "now_ns": N|null, "held": bool}                             -> {"wall_ns": N}
//   {"op": "opened_anchor", "handed": [[stream_ns, handed_ns], ...], "opened_ns": N} -> {"anchor_ns": N|null}
//   {"op": "burst", "opened_ns": N, "now_ns": N, "frame_ns": N}                   -> {}  (a new OpenBurst)
//   {"op": "over", "stream_ns": N|null, "handed_ns": N}                           -> {"over": bool}
// One StreamClock ("cam0") for the whole run. Returns the exit code (2: a line it cannot read).
int run_stream_clock_trace(std::istream& in, std::ostream& out);

}  // namespace qc
