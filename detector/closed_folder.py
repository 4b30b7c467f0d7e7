"""Which folder on the way to a camera's device or file this user may not enter, for the fix to name it.

A path behind a folder without search (x) permission fails with EACCES from ``stat``
itself: making the file readable, or adding the user to the ``video`` group, does not
help, so the fix names that folder (``detector/native/src/camera.cpp`` says the same).
"""

from __future__ import annotations

import os
from pathlib import Path

from quickcam.common.protocol_schema import middle_cut

FOLDER_SHOWN_MAX = 40  # bytes of the folder in a fault: its end names it; the path (120) and the fix fit in 300


def closed_folder(path: str) -> str:
    """The first folder on ``path``'s way (from ``/`` down) this user may not search, or "" if none is."""
    absolute = Path(os.path.abspath(path))
    for folder in reversed(absolute.parents):
        if not os.access(folder, os.X_OK):
            return str(folder)
    return ""


def folder_fix(path: str, whole: bool = False) -> str:
    """The words after "cannot open <path> — " for a path refused by a folder on its way (EACCES from stat)."""
    folder = closed_folder(path)
    if not folder:  # opened up meanwhile, or refused for another reason: the general words
        return "permission denied on a folder in its path; give this user search (x) permission on each folder of it"
    shown = folder if whole else middle_cut(folder, FOLDER_SHOWN_MAX)
    return f"permission denied on the folder {shown} in its path; give this user search (x) permission on it"
