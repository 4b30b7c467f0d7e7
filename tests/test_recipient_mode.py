"""Mode 2 end to end: the camera side holds only a public key, the owner decrypts elsewhere."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from quickcam.common import cryptofile as cf
from tests.conftest import QUICKCAM, REPO, private_endpoint, run_script
from tests.pipeline import QUICK_DEMO, Pipeline


@pytest.mark.slow
def test_footage_encrypted_to_a_recipient_is_unreadable_on_the_camera_machine_and_decrypts_for_the_owner(
    tmp_path: Path,
) -> None:
    owner = tmp_path / "owner"
    owner.mkdir()
    made = subprocess.run([QUICKCAM, "keygen", "--recipient", str(owner / "footage.key")],
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    camera_box = tmp_path / "camera"
    camera_box.mkdir()
    (camera_box / "tokens.env").write_text(f"ENCRYPTION_RECIPIENT={owner / 'footage.key.pub'}\n")
    pipe = Pipeline(camera_box, **QUICK_DEMO)
    try:
        pipe.start_uploader_listening()  # the detector is stopped early: its link must be up by then
        pipe.start("detector")
        deadline = time.monotonic() + 40  # the first walk's snapshot and a segment: polled, a slow machine waits
        while len(pipe.produced()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert pipe.stop("detector") == 0
        assert pipe.wait_drained(60), pipe.missing()
        assert pipe.stop("uploader") == 0
    finally:
        pipe.close()

    # On the camera machine nothing can decrypt what was uploaded.
    denied = subprocess.run([QUICKCAM, "decrypt", "storage", "-o", "out"], cwd=camera_box,
                            capture_output=True, text=True, timeout=60)
    assert denied.returncode != 0
    assert "Traceback" not in denied.stderr
    assert not list((camera_box / "out").rglob("*.mp4"))

    # The owner, with the private key, gets every item back bit for bit.
    with open(camera_box / "tokens.env", "a") as env:
        env.write(f"ENCRYPTION_PRIVATE_KEY_FILE={owner / 'footage.key'}\n")
    figures = pipe.check_invariant()
    assert figures["produced"] >= 2
    inspected = subprocess.run([QUICKCAM, "inspect", *map(str, list((camera_box / "storage").rglob("*.qsc"))[:1])],
                               capture_output=True, text=True, timeout=60)
    assert inspected.returncode == 0 and "recipient" in inspected.stdout.lower()


@pytest.mark.slow
def test_run_all_demo_in_recipient_mode_adds_no_symmetric_key(tmp_path: Path) -> None:
    public = cf.RecipientPrivateKey.generate().public_key()
    (tmp_path / "tokens.env").write_text(f"ENCRYPTION_RECIPIENT={public.to_hex()}\n")
    (tmp_path / "tokens.env").chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUICKCAM_", "ENCRYPTION_"))}
    env["QUICKCAM_LINK__ENDPOINT"] = private_endpoint(tmp_path)
    # The demo's script 3 s in (QUICK_DEMO): the walk from 1 s, 4 s of it before the stop at 5 s, as the default
    # script's walk from 4 s had before a stop at 8 s.
    env |= QUICK_DEMO
    run = run_script([str(REPO / "scripts/run_all.sh"), "--demo", "--seconds", "5"], cwd=tmp_path, env=env,
                     timeout=180)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (tmp_path / "tokens.env").read_text() == f"ENCRYPTION_RECIPIENT={public.to_hex()}\n"
    assert "ENCRYPTION_KEY" not in run.stderr
    stored = list((tmp_path / "storage").rglob("*.qsc"))
    assert stored
    for path in stored:
        with path.open("rb") as src:
            assert cf.read_header(src).mode == 2
