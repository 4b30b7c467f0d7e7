// The pre-roll: the frames kept before an event starts (camera.cpp's capture thread). A camera recorded by
// passthrough keeps each frame's packets only (its picture is done with once detection and snapshots have
// read it), back to a keyframe, so an event's first segment plays on its own (passthrough.py's buffer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

#include "sources.hpp"

namespace qc {

// What the pre-roll and the recorder's queue keep of a frame: a passthrough one's packets, not its picture.
Frame recorded(const Frame& frame);

// Drops what is older than keep_from_ns, and for passthrough only up to the keyframe at or before it: each
// segment's first packet must be one.
void trim_pre_roll(std::deque<Frame>& pre_roll, int64_t keep_from_ns);

// Where an event's pre-roll starts: with passthrough, the last keyframe at or before from_ns, else the last
// frame at or before it (the caller skips a re-encoded frame before from_ns).
size_t pre_roll_start(const std::deque<Frame>& pre_roll, int64_t from_ns);

}  // namespace qc
