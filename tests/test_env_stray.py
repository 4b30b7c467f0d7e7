"""A stray ``QUICKCAM_X`` in the environment (no ``__``, no top-level key: the project's own tools read
``QUICKCAM_SOAK``, ``QUICKCAM_NATIVE_BUILD``) is ignored with a warning naming it, by both detectors and the
uploader, in the same words; a misspelled override (``QUICKCAM_CAMERA__PAHT``) still stops them, as a
misspelled key in the file does. Before, the stray one stopped every process: ``config error: soak: unknown key``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import QUICKCAM, private_endpoint

SAID = ("config: environment variable QUICKCAM_SOAK ignored: not a config override (those are "
        "QUICKCAM_<SECTION>__<KEY>, e.g. QUICKCAM_CAMERA__FPS)")


def _run(tmp_path: Path, which: str, extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    if which == "native":
        from tests.native_build import native_detector

        argv = [str(native_detector())]
    else:
        argv = [QUICKCAM, which]
    endpoint = private_endpoint(tmp_path)
    (tmp_path / "quickcam.toml").write_text(f'[camera]\nsource = "demo"\n[link]\nendpoint = "{endpoint}"\n'
                                            '[storage.local]\npath = "storage"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")} | extra
    env["ENCRYPTION_KEY"] = "a" * 64
    return subprocess.run([*argv, "--config", "quickcam.toml", "--seconds", "1"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("which", ["detector", "native", "uploader"])
def test_a_stray_quickcam_variable_is_a_warning_naming_it_and_a_misspelled_override_still_stops(
        tmp_path: Path, which: str) -> None:
    run = _run(tmp_path, which, {"QUICKCAM_SOAK": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stderr.count(SAID) == 1, run.stderr[-3000:]
    run = _run(tmp_path, which, {"QUICKCAM_CAMERA__PAHT": "x.mp4"})
    assert run.returncode == 2, run.stderr[-3000:]
    assert "camera.paht: unknown key (did you mean path?); fix it in environment variable QUICKCAM_CAMERA__PAHT" \
        in run.stderr, run.stderr
