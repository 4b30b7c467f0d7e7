"""The person check's budget is CPU time: on a loaded box, waiting for a core is not spent from it.

Measured for real: the check runs in a child process pinned to one CPU beside a busy loop pinned to the
same CPU, so each search takes about twice its CPU time on the wall clock. Charged by the wall clock (as
before), the check spent twice what it used and, with a tight budget, searched half as often under load.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent("""
    import json, os, sys, time
    import cv2
    import numpy as np
    from quickcam.detector.motion.person import PersonCheck

    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))  # as the busy loop: the core is shared fairly
    os.sched_setaffinity(0, {int(sys.argv[1])})
    cv2.setNumThreads(1)
    rng = np.random.default_rng(7)
    leaves = cv2.GaussianBlur(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8), (5, 5), 0)
    check = PersonCheck(budget_ms_per_s=1000, fps=10)  # never short of budget: every look searches
    check.allows(leaves, [(100, 40, 80, 160)])  # warm up (first-call allocations)
    spent_ms = cpu_ms = wall_ms = 0.0
    for _ in range(30):
        before = min(check.budget_ms_per_s, check.tokens + check.frame_s * check.budget_ms_per_s)
        wall, cpu = time.perf_counter(), time.thread_time()
        check.allows(leaves, [(100, 40, 80, 160)])
        cpu_ms += (time.thread_time() - cpu) * 1000
        wall_ms += (time.perf_counter() - wall) * 1000
        spent_ms += before - check.tokens
    print(json.dumps({"spent": spent_ms, "cpu": cpu_ms, "wall": wall_ms, "searches": check.searches}))
""")


def test_a_search_that_waits_for_a_busy_core_is_charged_its_cpu_time_not_its_wall_time() -> None:
    cpu = min(os.sched_getaffinity(0))
    # Normal scheduling, whatever the worker inherited: a busy loop under a real-time policy (a worker was
    # once switched to SCHED_FIFO from outside) would starve its core, and the child would never run.
    loop = ("import os\nos.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))\n"
            f"os.sched_setaffinity(0, {{{cpu}}})\nwhile True: pass")
    busy = subprocess.Popen([sys.executable, "-c", loop])
    try:
        done = subprocess.run([sys.executable, "-c", CHILD, str(cpu)], capture_output=True, text=True, timeout=120)
    finally:
        busy.kill()
        busy.wait()
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout)
    assert figures["searches"] == 31, figures
    assert figures["wall"] > 1.5 * figures["cpu"], f"the core was not shared: {figures}"
    assert abs(figures["spent"] - figures["cpu"]) < 0.25 * figures["cpu"], figures
