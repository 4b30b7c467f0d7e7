"""The motion core as it was at another commit, imported beside today's (before / after in one run).

``git show`` copies ``detector/motion/`` at that commit into a temporary
package (its ``quickcam.detector.motion`` imports pointed at the copy); the
rest (config, events) is today's. Benchmarks only.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def factory_at(commit: str) -> Callable:
    """``create_detector`` of ``detector/motion/`` at ``commit``."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO), *args], check=True, capture_output=True, text=True).stdout

    sha = git("rev-parse", "--short", commit).strip()
    name = f"motion_at_{sha}"
    root = Path(tempfile.mkdtemp(prefix="quickcam-motion-"))
    (root / name).mkdir()
    for path in git("ls-tree", "--name-only", f"{sha}:detector/motion").split():
        if path.endswith(".py"):
            text = git("show", f"{sha}:detector/motion/{path}").replace("quickcam.detector.motion", name)
            (root / name / path).write_text(text)
    sys.path.insert(0, str(root))
    return importlib.import_module(name).create_detector
