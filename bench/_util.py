"""Small helpers shared by the benchmarks: process CPU and memory from /proc, medians."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process (not its children) has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU seconds each named thread of a process has used so far (the scheduler's nanoseconds, finer than ticks).

    Threads of one name are summed; one that ended between two reads is missing from the later one.
    """
    seconds: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            used = int((task / "schedstat").read_text().split()[0]) / 1e9
        except OSError:  # the thread ended meanwhile
            continue
        seconds[name] = seconds.get(name, 0.0) + used
    return seconds


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = f"{platform.system()} {platform.machine()}"
    return f"{system}, {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def commit() -> str:
    """The commit the figures come from, ``+ uncommitted changes`` when the tree is dirty.

    Call it before the run: a commit made while a long run goes on must not be stamped on it.
    """
    here = Path(__file__).parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=here).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, cwd=here).stdout.strip()
    except OSError:
        return "unknown"
    if not head:
        return "unknown"
    return f"{head} + uncommitted changes" if dirty else head


QUICKCAM = str(Path(sys.executable).parent / "quickcam")


def scratch_setup(folder: Path, **overrides: str) -> dict[str, str]:
    """Give ``folder`` a fresh key in tokens.env; return an environment that runs quickcam there.

    The link goes over an ipc socket in the folder, so runs never collide on a port.
    """
    key = subprocess.run([QUICKCAM, "keygen"], capture_output=True, text=True, check=True).stdout
    (folder / "tokens.env").write_text(key)
    (folder / "tokens.env").chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    env["QUICKCAM_LINK__ENDPOINT"] = f"ipc://{folder}/link/uploader.sock"  # the default, made absolute
    env.update(overrides)
    return env
