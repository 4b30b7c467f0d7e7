// Wall-clock times for footage that never run backwards: the one clock frames are stamped with
// (detector/clock.py, which is the spec).
//
// A frame's time is both a label (headers, journal lines, storage names) and the ruler of every
// duration in the pipeline (pre-roll, post-roll, segment length, idle looks, the measured frame
// rate). Read straight from the system clock, a step of that clock (NTP correcting a board that
// booted without a real-time clock, an operator's `date -s`) reached all of them. So frames are
// stamped from the monotonic clock plus an offset to the wall clock taken once:
// - a step forward (more than 1 s) is followed at once, with one warning: the pipeline sees a
//   gap, the running event ends and the next motion starts a new one;
// - a step back is not followed: footage keeps counting from before the step, ahead of the
//   system clock by the step (clock_ahead_s, in the status file), with one error line per step,
//   until the detector restarts.
#pragma once

#include <cstdint>

namespace qc {

int64_t footage_ns();     // now, for stamping a frame: epoch nanoseconds that never step back
double clock_ahead_s();   // how far footage times run ahead of the system clock (0 normally), 0.1 s steps
double monotonic_s();     // CLOCK_MONOTONIC seconds, as Python's time.monotonic(): the ruler of ages
double wall_s();          // epoch seconds, as Python's time.time(): labels for people

}  // namespace qc
