"""Sparse looks: the motion core's counters count source frames, not the frames it looked at.

The core's times are seconds turned into frames at the source's rate
(``relearn_s``, LIGHT_CONTEXT_S, HOLD_S, the person check's clock). Some
opt-ins look at far fewer frames than the source delivers while nothing
moves: ``idle_detect_fps``, ``idle_keyframes_only`` (one look a GOP), the
low-power governor (2 fps), ``dark_interval_s``. Counted per look, each of
those times lasted the ratio longer in real time: at one look every 2 s on a
10 fps camera, a light context meant to last 2 s lasted 40 s, and a plainly
dressed person who came in after a light step was taken for the light
(benchmarks section 12c: held-out "flat walker and a light step", 0/4 seen
at ``idle_detect_fps = 0.5``). So ``detect`` is told how many source frames
passed since its last look and each counter steps down by that many. One
frame (every frame looked at, the default) changes nothing, to the bit.

The learning *rates* (the background's, the noise estimate's, the busy
map's) stay per look, on purpose. Compounded over the frames not looked at
(``1 - (1 - rate) ** frames``) they take the look's picture as if it had
stood there all that time: a walker who came in between two looks was
learnt at 64 % on his first look at 0.5 fps and gone on the next (held-out
recall 60/65 -> 28/65), and the busy map, forgetting a look's worth of
frames at once, lost small people ("small people" at 1 fps: 6/6 -> 4/6).
A look is one sample of the scene, whatever the time since the last.
"""

from __future__ import annotations


def context_step(frames: int, span: int) -> int:
    """How far a context of ``span`` frames counts down at a look ``frames`` source frames after the last.

    ``frames``, but never the whole ``span`` at once: a context armed at one
    look still holds at the next, however far apart they are. Looking every
    2 s with a 2 s context, it would otherwise never cover a look after the
    one that saw the light move, and a curtain's shading that the light
    context kept out started events (held-out "small before a curtain" at
    0.5 fps: 1 -> 4 false events).
    """
    return max(1, min(frames, span - 1))
