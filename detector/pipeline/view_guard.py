"""The view guard: a camera whose picture has become useless says so (camera-tampering detection).

Frames arriving is not seeing. A burglar covers the lens (a cloth, tape, a hand,
spray paint), turns the camera to the wall, or an IP camera's encoder sticks and
repeats its last picture while the stream goes on. The motion core may take a
smooth cover for a change of light and start no event at all. This stage watches
the picture itself, a few times a second, on the frame detection already made
(the motion core's shrunk, blurred gray, ``MotionDetector.gray``), shrunk again
to GRID (64 x 48): a few tens of microseconds a look.

Three faults, each sustained before it is said, and cleared once the view has been
back for CLEAR_S:

- ``blocked``: the picture has lost its structure. Structure is the mean
  high-pass detail of the small picture divided by its brightness (so a light
  step or a fade leaves it alone, and a dark scene with anything in it keeps
  it); blocked when it falls under BLOCKED_SHARE of what this camera learnt,
  or under FLAT (near uniform, whatever was learnt), for BLOCKED_S. A pitch
  black picture has no structure either: "covered, or no light at all" is then
  the honest wording.
- ``moved``: the picture still has structure, but its detail no longer lines
  up with the camera's long-term view (the match of the two high-pass
  pictures under MOVED_MATCH) for MOVED_S. A change of light scales the
  picture and keeps its edges where they were; a camera turned away does not.
  The match is taken tile by tile (TILE), each tile's correlation weighted by
  the learnt view's detail there, and its sign dropped: the share of the
  view's detail still where it was. A dark doorway whose next room is lit
  (FINDINGS #83) keeps its edges where they were, but the other way round
  (dark against the room, then bright) and twentyfold: correlated over the
  whole picture, it drowned the rest of the room (0.2, under MOVED_MATCH,
  for as long as the light stayed on). Unrelated detail (a camera turned
  away) correlates either way, little, tile by tile: 0.13 on the tests'.
  After MOVED_ACCEPT_S the new view is taken as the camera's view (someone
  re-aimed it on purpose: the alert has been sent).
- ``frozen``: consecutive looks identical (mean difference under FROZEN_DIFF:
  a real sensor always has noise) for FROZEN_S while frames keep coming: an
  encoder repeating its last frame. Not while the picture is blocked: a
  covered lens sends an unchanging black picture, and is said blocked. H.264 may skip every macroblock of a
  static scene between keyframes, so where the decoder says which frames are
  keyframes the freeze must also span FROZEN_KEYFRAMES of them (a camera with
  a GOP longer than FROZEN_S is not frozen between two), or last 3 x FROZEN_S.
  Only for live sources (a USB camera, a stream): a video file may hold a
  still picture.

Functional core: fed pictures and times, it returns what changed; the detect
stage logs, counts and reports it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

GRID = (64, 48)  # width, height the guard looks at
LOOK_EVERY_NS = 250_000_000  # four looks a second are plenty for faults that take seconds
BRIGHT_OFFSET = 8.0  # added to the brightness before dividing the detail by it (near-black pictures)
FLAT = 0.012  # structure under this: near uniform, whatever the camera learnt
BLOCKED_SHARE = 0.3  # structure under this share of the learnt one: the detail collapsed
BLOCKED_S = 4.0
MOVED_MATCH = 0.35  # share of the long-term view's detail still lining up under this: not the same view
TILE = 8  # the match's tiles, in GRID pixels (8 x 6 of them)
MOVED_S = 8.0
MOVED_ACCEPT_S = 600.0
FROZEN_DIFF = 0.02  # mean gray-level difference between looks: a sensor's noise is ten times this at least
FROZEN_S = 10.0
FROZEN_KEYFRAMES = 2  # keyframes inside a freeze, where the source says which frames are keyframes
CLEAR_S = 2.0  # a fault said ends once none of the conditions has held for this long
LEARN_S = 60.0  # time constant of the long-term view and structure
WARMUP_S = 5.0  # the first seconds are learnt fast, and no moved fault is judged before they pass


@dataclass(frozen=True)
class ViewFault:
    """What the camera cannot see, since when, in words for a person."""

    kind: str  # blocked, moved, frozen (docs/protocol.md: camera status ``view``)
    since_ns: int  # when the condition began (it is said BLOCKED_S / MOVED_S / FROZEN_S later)
    text: str


@dataclass
class _Watch:
    """How long one condition has held."""

    since_ns: int = 0  # 0: not holding

    def hold(self, holding: bool, time_ns: int) -> float:
        """Seconds the condition has held up to ``time_ns`` (0 when it does not hold now)."""
        if not holding:
            self.since_ns = 0
            return 0.0
        self.since_ns = self.since_ns or time_ns
        return (time_ns - self.since_ns) / 1e9


class ViewGuard:
    """Looks at detection's gray picture a few times a second; ``fault`` is what it cannot see, or None."""

    def __init__(self, watch_frozen: bool = True) -> None:
        self.watch_frozen = watch_frozen
        self.fault: ViewFault | None = None
        self.episodes = 0  # faults said since start
        self.structure = 0.0  # the last look's
        self.match = 1.0  # the last look's match with the long-term view (_match)
        self._learnt_structure = 0.0
        self._view: np.ndarray | None = None  # long-term high-pass picture
        self._previous: np.ndarray | None = None
        self._first_ns = 0
        self._next_ns = 0
        self._last_ns = 0
        self._blocked, self._moved, self._frozen, self._clear = _Watch(), _Watch(), _Watch(), _Watch()
        self._keyframes: int | None = None  # keyframes seen, once the source says which frames are
        self._keyframes_frozen = 0  # the count when the freeze began

    def look(self, gray: np.ndarray, time_ns: int,
             keyframe: bool | None = None) -> tuple[ViewFault | None, ViewFault | None]:
        """Take one detection picture; returns (the fault that started, the fault that ended), each or None.

        ``keyframe``: whether the frame was a keyframe, when the decoder says (None: it does not).
        """
        if keyframe is not None:
            self._keyframes = (self._keyframes or 0) + keyframe
        if time_ns < self._next_ns and time_ns >= self._last_ns:
            return None, None
        elapsed_s = max(0.0, (time_ns - self._last_ns) / 1e9) if self._last_ns else 0.0  # (a clock that stepped back)
        self._next_ns, self._last_ns = time_ns + LOOK_EVERY_NS, time_ns
        small = cv2.resize(gray, GRID, interpolation=cv2.INTER_AREA).astype(np.float32, copy=False)
        frozen_s = self._watch_frozen(small, time_ns)
        brightness = float(small.mean())
        detail = small - cv2.blur(small, (5, 5))
        self.structure = float(np.abs(detail).mean()) / (brightness + BRIGHT_OFFSET)
        self._first_ns = self._first_ns or time_ns
        warm = (time_ns - self._first_ns) / 1e9 >= WARMUP_S
        if self._view is None:
            self._view, self._learnt_structure = detail.copy(), self.structure
        self.match = _match(detail, self._view)
        learnt = self._learnt_structure
        collapsed = self.structure < FLAT or self.structure < BLOCKED_SHARE * learnt
        blocked_s = self._blocked.hold(collapsed, time_ns)
        moved_s = self._moved.hold(warm and not collapsed and self.match < MOVED_MATCH, time_ns)
        fault = self._judge(blocked_s, moved_s, frozen_s, time_ns)
        suspect = bool(self._blocked.since_ns or self._moved.since_ns or self._frozen.since_ns)
        clear_s = self._clear.hold(not suspect, time_ns)
        if moved_s >= MOVED_ACCEPT_S:  # re-aimed for good: this is the camera's view now
            self._view, self._learnt_structure = detail.copy(), self.structure
            self._moved.since_ns = 0
        elif fault is None and self.fault is not None and clear_s < CLEAR_S:
            fault = self.fault  # a view hovering at a threshold is one episode, not one a second
        elif fault is None and not suspect:  # a clear view: learn it
            rate = min(1.0, elapsed_s / (LEARN_S if warm else 1.0))
            self._view += rate * (detail - self._view)
            self._learnt_structure += rate * (self.structure - self._learnt_structure)
        return self._change(fault)

    def _watch_frozen(self, small: np.ndarray, time_ns: int) -> float:
        previous, self._previous = self._previous, small.copy()
        if not self.watch_frozen or previous is None:
            return 0.0
        same = float(cv2.norm(small, previous, cv2.NORM_L1)) / small.size < FROZEN_DIFF
        if same and not self._frozen.since_ns:
            self._keyframes_frozen = self._keyframes or 0
        frozen_s = self._frozen.hold(same, time_ns)
        if self._keyframes is None or frozen_s >= 3 * FROZEN_S:
            return frozen_s
        return frozen_s if self._keyframes - self._keyframes_frozen >= FROZEN_KEYFRAMES else 0.0

    def _judge(self, blocked_s: float, moved_s: float, frozen_s: float, time_ns: int) -> ViewFault | None:
        """The fault that holds now, the most telling first; a fault said goes on while its condition holds."""
        # A frozen picture tells nothing of structure: said first, unless it has none. A covered lens (an unchanging
        # black picture: no noise to change) is blocked, not a stuck encoder to power-cycle.
        if frozen_s >= FROZEN_S and not self._blocked.since_ns:
            return ViewFault("frozen", self._frozen.since_ns,
                             f"view frozen: the picture has not changed at all for {frozen_s:.0f} s while frames "
                             "keep coming (the camera's encoder is stuck: restart or power-cycle the camera)")
        if blocked_s >= BLOCKED_S:
            return ViewFault("blocked", self._blocked.since_ns,
                             f"view blocked: the picture has no detail for {blocked_s:.0f} s (lens covered or "
                             "sprayed, or no light at all: check the camera)")
        if MOVED_ACCEPT_S > moved_s >= MOVED_S:
            return ViewFault("moved", self._moved.since_ns,
                             f"view moved: the picture has not matched the camera's usual view for {moved_s:.0f} s "
                             "(turned away, or something large in front of it: check where it points)")
        return None

    def _change(self, fault: ViewFault | None) -> tuple[ViewFault | None, ViewFault | None]:
        before = self.fault
        self.fault = fault
        if (before is None) == (fault is None) and (before is None or before.kind == fault.kind):  # type: ignore[union-attr]
            return None, None
        if fault is not None:
            self.episodes += 1
        return fault, before


def _match(now: np.ndarray, view: np.ndarray) -> float:
    """The share of the learnt view's detail still lining up (1: the same edges everywhere, ~0.1: unrelated).

    Each TILE x TILE tile's normalised correlation, its sign dropped (a region whose light changed keeps its
    edges in place, whatever the gain, even the other way round: a dark doorway lit), weighted by the view's
    detail there (its L2 norm: a tile with no detail in the view, flat or dark, hardly counts). Sum of
    |now . view| / |now| over sum of |view|, tile by tile (from the tiles' means: the same ratio); a tile now
    flat matches nothing. As view_guard.cpp, with the same OpenCV calls.
    """
    tiles = (now.shape[1] // TILE, now.shape[0] // TILE)  # INTER_AREA at a whole factor: each tile's mean
    means = cv2.resize(cv2.merge((now * view, now * now, view * view)), tiles, interpolation=cv2.INTER_AREA)
    dot, aa, bb = (means[..., k].astype(np.float64) for k in range(3))
    weight = float(np.sqrt(bb).sum())
    if weight <= 1e-9:
        return 1.0
    now_norm = np.sqrt(aa)
    lined_up = np.divide(np.abs(dot), now_norm, out=np.zeros_like(dot), where=now_norm > 1e-9)
    return float(lined_up.sum()) / weight
