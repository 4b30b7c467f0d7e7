"""``quickcam view`` as a process: the printed URL, loopback only, no plaintext on any disk, bad setups."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx2 as httpx
import pytest

from quickcam.common.cryptofile import SymmetricKey
from tests.conftest import QUICKCAM
from tests.uploader.viewer.footage_store import StoredEventFixture
from tests.uploader.viewer.served import start_view, write_setup


def _open_files(pid: int) -> list[str]:
    found = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("/") and Path(target).is_file():
            found.append(target)
    return found


def test_view_serves_on_loopback_and_writes_no_plaintext_anywhere(tmp_path: Path, store_key: SymmetricKey,
                                                                    store: dict[str, StoredEventFixture]) -> None:
    config = write_setup(tmp_path, tmp_path / "storage", store_key)
    served = start_view(config, tmp_path / "home")
    try:
        assert served.url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=served.base, follow_redirects=True, timeout=30) as client:
            assert client.get("/").url.path == "/login"  # no token, no page
            assert "face(s)" in client.get(f"/?token={served.token}").text
            for event in store.values():
                assert client.get(event.url).status_code == 200
                client.get(event.url + "/video.mp4")
                client.get(event.url + "/snapshot/0.jpg")
                client.get(event.url + "/download.zip")
                assert client.get(event.url + "/download.mp4").status_code == 200
            held = _open_files(served.process.pid)
    finally:
        output = served.stop()
    assert "Traceback" not in output, output
    # Nothing was written where a process puts files: its HOME, TMPDIR and working folder.
    assert list(served.home.rglob("*")) == []
    # No file open at the end but code and libraries (no temporary file, no cache).
    assert [f for f in held if not f.startswith(("/usr/", str(Path(QUICKCAM).parent.parent)))] == []
    # And no plaintext in any file under the test's folder (the store holds only ciphertext).
    samples = [data[len(data) // 2: len(data) // 2 + 64] for event in store.values()
               for data in event.plaintexts.values()]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert not any(sample in content for sample in samples), path


def test_listen_elsewhere_still_needs_the_login(tmp_path: Path, store_key: SymmetricKey,
                                                 store: dict[str, StoredEventFixture]) -> None:
    config = write_setup(tmp_path, tmp_path / "storage", store_key)
    served = start_view(config, tmp_path / "home", "--listen", "0.0.0.0")
    try:
        with httpx.Client(base_url=served.base, follow_redirects=False, timeout=30) as client:
            assert client.get("/").status_code == 303
            assert client.get(store["face"].url + "/video.mp4").status_code == 401
    finally:
        output = served.stop()
    assert "plain HTTP" in output


def _run(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("QUICKCAM_", "ENCRYPTION"))}
    return subprocess.run([QUICKCAM, "view", "--config", str(config), *args], capture_output=True, text=True,
                          timeout=60, env={**clean, **(env or {})}, stdin=subprocess.DEVNULL)


def test_missing_destination_credentials_give_the_doctor_line(tmp_path: Path, store_key: SymmetricKey) -> None:
    config = write_setup(tmp_path, tmp_path / "storage", store_key)
    config.write_text(config.read_text() + '[storage.s3]\nkind = "fsspec"\nurl = "s3://bucket/footage"\n'
                      'storage_options = { key = "${AWS_ACCESS_KEY_ID_QC}", secret = "${AWS_SECRET_QC}" }\n')
    result = _run(config, "--from", "s3")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "FAIL  storage s3:" in lines[0] and "AWS_ACCESS_KEY_ID_QC" in lines[0] and "fix:" in lines[0]


def test_unknown_destination_and_missing_keys_are_one_line_each(tmp_path: Path, store_key: SymmetricKey) -> None:
    config = write_setup(tmp_path, tmp_path / "storage", store_key)
    result = _run(config, "--from", "nas")
    assert result.returncode == 2 and "no such destination" in result.stderr and "Traceback" not in result.stderr
    (tmp_path / "tokens.env").write_text("")
    result = _run(config)
    assert result.returncode == 2 and "no keys" in result.stderr and "Traceback" not in result.stderr


def test_hash_password_prints_a_line_for_tokens_env_and_no_password(tmp_path: Path) -> None:
    result = subprocess.run([QUICKCAM, "view", "--hash-password"], input="a long enough secret\n" * 2,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("VIEW_PASSWORD_HASH=scrypt$")
    assert "a long enough secret" not in result.stdout


def test_hash_password_reads_one_piped_line_without_warnings_and_says_when_there_is_none() -> None:
    """`echo pw | quickcam view --hash-password` printed getpass's `Can not control echo` warning twice, then
    stopped at the confirmation with no line left (exit 130, no hash): a pipe is read, one line, quietly."""
    result = subprocess.run([QUICKCAM, "view", "--hash-password"], input="a long enough secret\n",
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("VIEW_PASSWORD_HASH=scrypt$"), result
    assert "Warning" not in result.stderr and "echo" not in result.stderr, result.stderr
    result = subprocess.run([QUICKCAM, "view", "--hash-password"], input="", capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and not result.stdout, result
    assert result.stderr.strip().splitlines() == ["quickcam view: no password on stdin: pipe it as one line "
                                                  "(`pass show NAME | quickcam ...`), or run this at a terminal "
                                                  "to be asked"], result.stderr


@pytest.mark.parametrize("bad", ["not-a-hash", "scrypt$1$2$3$xx$yy"])
def test_a_malformed_password_hash_is_one_line(tmp_path: Path, store_key: SymmetricKey, bad: str) -> None:
    config = write_setup(tmp_path, tmp_path / "storage", store_key)
    result = _run(config, env={"VIEW_PASSWORD_HASH": bad})
    assert result.returncode == 2 and "VIEW_PASSWORD_HASH" in result.stderr and "Traceback" not in result.stderr
