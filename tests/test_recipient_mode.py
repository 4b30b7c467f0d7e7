"""Mode 2 end to end: the camera side holds only a public key, the owner decrypts elsewhere."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import QUICKCAM
from tests.pipeline import Pipeline


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
    pipe = Pipeline(camera_box)
    try:
        pipe.start("uploader")
        pipe.start("detector")
        time.sleep(9)
        assert pipe.stop("detector") == 0
        assert pipe.wait_drained(30), pipe.missing()
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
