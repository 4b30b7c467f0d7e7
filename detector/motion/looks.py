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

The dark's temporal denoising is not such a rate: it averages frames taken
to show the same picture, and its weight is a time constant of its own
(DARK_SMOOTHING: each frame half of the average, about two frames of
memory). Kept per look, at 2 fps it averaged the look with the one 0.5 s
before: a walker in the dark became two half-contrast ghosts, smooth enough
to be taken for light, and the low-power governor lost him (tune "dark", 2
fps: 4/5 walkers, 5/5 looking at every frame). ``smoothing_weight``
compounds it over the frames passed, so a sparse look forgets what the
frames not looked at would have replaced.
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


def smoothing_weight(weight: float, frames: int) -> float:
    """The weight of a look ``frames`` source frames after the last, in an average that gives each frame ``weight``.

    What the previous average keeps decays as over that many frames, ``(1 -
    weight) ** frames``. One frame (every frame looked at) gives ``weight``
    itself, to the bit.
    """
    return weight if frames <= 1 else 1.0 - (1.0 - weight) ** frames
