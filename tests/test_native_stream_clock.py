"""The native stream clock (``stream_clock.cpp``) answers every call as ``detector/stream_clock.py``, its spec.

Both detectors time a live stream's frames with the same rule: anchored when its packets were
sent, slowed back when its clock runs ahead, re-anchored when it jumps, never going back, and the
packets FFmpeg held at the open read ahead (``OpenBurst``) and timed from ``opened_anchor``. The
native binary's ``--stream-clock`` mode takes the calls on stdin (one JSON object a line) and
answers each; the same calls are made on the Python classes, and every answer must be the same.
The calls are those of ``tests/detector/test_stream_clock.py``'s cases and a seeded random walk
through every branch (jitter, a fast clock, jumps both ways, reopens with and without an anchor,
packets held at the open, times only converted).
"""

from __future__ import annotations

import json
import random
import subprocess
from typing import Any

import pytest

from quickcam.detector.stream_clock import OpenBurst, StreamClock, opened_anchor
from tests.native_build import native_detector

FRAME_NS = 100_000_000  # 10 fps
T0 = 1_800_000_000 * 10**9
HOUR = 3600 * 10**9
Call = dict[str, Any]


class Spec:
    """The Python stream clock, answering calls as the native mode does."""

    def __init__(self) -> None:
        self.clock = StreamClock("cam0")
        self.burst: OpenBurst | None = None
        self.latest = 0  # the latest time given: what the detector passes as latest_ns

    def answer(self, call: Call) -> dict[str, Any]:
        op = call["op"]
        if op == "restart":
            self.clock.restart(call["anchor_ns"], call["latest_ns"])
            return {}
        if op == "wall_ns":
            wall = self.clock.wall_ns(call["stream_ns"], call["latest_ns"], call["frame_ns"], call["arrived"],
                                      call["now_ns"], call["held"])
            self.latest = max(self.latest, wall)
            return {"wall_ns": wall}
        if op == "opened_anchor":
            return {"anchor_ns": opened_anchor([tuple(pair) for pair in call["handed"]], call["opened_ns"])}
        if op == "burst":
            self.burst = OpenBurst(call["opened_ns"], call["now_ns"], call["frame_ns"])
            return {}
        assert op == "over" and self.burst is not None
        return {"over": self.burst.over(call["stream_ns"], call["handed_ns"])}


def _frame(spec: Spec, stream_ns: int, now_ns: int | None, arrived: bool = True, held: bool = False,
           frame_ns: int = FRAME_NS) -> Call:
    return {"op": "wall_ns", "stream_ns": stream_ns, "latest_ns": spec.latest, "frame_ns": frame_ns,
            "arrived": arrived, "now_ns": now_ns, "held": held}


def _case(make: Any) -> tuple[list[Call], list[dict[str, Any]]]:
    """The calls ``make(spec, say)`` makes (``say(call)`` answers at once, for the calls that depend on it)."""
    spec, calls, answers = Spec(), [], []

    def say(call: Call) -> dict[str, Any]:
        calls.append(call)
        answers.append(spec.answer(call))
        return answers[-1]

    make(spec, say)
    return calls, answers


def _arrivals(arrivals: list[tuple[int, int]]) -> Any:
    def make(spec: Spec, say: Any) -> None:
        for stream_ns, now_ns in arrivals:
            say(_frame(spec, stream_ns, now_ns))
    return make


def _open_burst(spec: Spec, say: Any) -> None:
    """Over RTSP: 28 packets held by the open and handed over at once, then as they come (a stream clock at 7000 s)."""
    sent = [T0 + 100_000_000 + n * FRAME_NS for n in range(60)]
    handed = [max(at + 30_000_000, sent[27]) for at in sent]
    stream0 = 7_000 * 10**9
    say({"op": "burst", "opened_ns": T0, "now_ns": sent[27], "frame_ns": FRAME_NS})
    for n in range(40):
        say({"op": "over", "stream_ns": stream0 + n * FRAME_NS, "handed_ns": handed[n]})
    say({"op": "over", "stream_ns": None, "handed_ns": handed[40]})
    anchor = say({"op": "opened_anchor", "handed": [[stream0 + n * FRAME_NS, handed[n]] for n in range(28)],
                  "opened_ns": T0})["anchor_ns"]
    say({"op": "restart", "anchor_ns": anchor, "latest_ns": spec.latest})
    for n in range(60):
        say(_frame(spec, stream0 + n * FRAME_NS, handed[n], held=n < 28))
    say({"op": "opened_anchor", "handed": [[0, T0 + 50_000_000], [HOUR, T0 + 60_000_000]], "opened_ns": T0})
    say({"op": "opened_anchor", "handed": [], "opened_ns": T0})


def _random_walk(seed: int) -> Any:
    """Reopens, jitter, a fast or slow clock, jumps both ways, held packets and converted-only times."""
    def make(spec: Spec, say: Any) -> None:
        rng = random.Random(seed)
        now, stream = T0, rng.randrange(0, 10**13)
        for _ in range(600):
            kind = rng.random()
            if kind < 0.02:  # a reopen: its times start again, anchored or not
                stream = rng.randrange(0, 10**13)
                anchor = rng.choice([None, now - stream - rng.randrange(0, 3 * 10**9)])
                say({"op": "restart", "anchor_ns": anchor, "latest_ns": spec.latest})
            elif kind < 0.05:  # the stream's clock jumps (back a little or a lot, or ahead)
                stream = max(0, stream + rng.choice([-8 * FRAME_NS, -HOUR, 3 * 10**9, HOUR]))
            step = rng.choice([FRAME_NS, FRAME_NS, FRAME_NS // 2, FRAME_NS * 3 // 2])  # its pace against ours
            now += FRAME_NS + rng.randrange(-30_000_000, 80_000_000)
            stream += step
            arrived = rng.random() < 0.9
            say(_frame(spec, stream, now if arrived or rng.random() < 0.5 else None, arrived=arrived,
                       held=arrived and rng.random() < 0.1))
    return make


CASES = {
    "fast": _arrivals([(n * FRAME_NS, T0 + n * FRAME_NS // 2) for n in range(200)]),
    "jitter": _arrivals([(n * FRAME_NS, T0 + n * FRAME_NS + late * 1_000_000)
                         for n, late in enumerate([0, 30, 5, 80, 10, 0, 60] * 10)]),
    "back": _arrivals([(n * FRAME_NS, T0 + n * FRAME_NS) for n in range(10)]
                      + [((n - 8) * FRAME_NS, T0 + n * FRAME_NS) for n in range(10, 20)]),
    "hour_ahead": _arrivals([(n * FRAME_NS, T0 + n * FRAME_NS) for n in range(10)]
                            + [(HOUR + n * FRAME_NS, T0 + n * FRAME_NS) for n in range(10, 20)]),
    "slow_then_behind": _arrivals([(n * FRAME_NS, T0 + n * FRAME_NS * 13 // 10) for n in range(100)]),
    "open_burst": _open_burst,
    **{f"random_{seed}": _random_walk(seed) for seed in (1, 2, 3)},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_native_stream_clock_answers_every_call_as_the_python_spec(case: str) -> None:
    calls, expected = _case(CASES[case])
    run = subprocess.run([str(native_detector()), "--stream-clock"], input="".join(json.dumps(c) + "\n" for c in calls),
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    answers = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(answers) == len(calls), run.stderr[-2000:]
    wrong = [(n, call, want, got) for n, (call, want, got) in enumerate(zip(calls, expected, answers, strict=True))
             if want != got]
    assert not wrong, f"{len(wrong)} of {len(calls)} answers differ; the first: {wrong[0]}"
    stamps = [a["wall_ns"] for a in expected if "wall_ns" in a]
    assert stamps, "the case gives no time"


def test_a_call_the_mode_cannot_read_is_one_line_and_exit_2() -> None:
    run = subprocess.run([str(native_detector()), "--stream-clock"], input='{"op": "over", "handed_ns": 1}\n',
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
    assert "--stream-clock: line 1" in run.stderr, run.stderr


def test_a_clock_that_jumps_at_every_packet_is_said_once_a_minute_with_a_count() -> None:
    # As tests/detector/test_stream_clock.py's case of that name: one line each, 14,729 in 7 s before
    # (bench/outside/FINDINGS.md #20); now the first, then one a minute counting those between.
    arrivals = [((n % 2) * HOUR + n * FRAME_NS, T0 + n * FRAME_NS) for n in range(300)] + [(HOUR, T0 + 91 * 10**9)]
    calls, expected = _case(_arrivals(arrivals))
    run = subprocess.run([str(native_detector()), "--stream-clock"], input="".join(json.dumps(c) + "\n" for c in calls),
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    assert [json.loads(line) for line in run.stdout.splitlines()] == expected
    lines = [line for line in (run.stdout + run.stderr).splitlines() if "re-anchored" in line]
    assert len(lines) == 2, lines[:5]
    assert "more time(s) since the last line" not in lines[0] and "(298 more time(s) since the last line)" in lines[1]
