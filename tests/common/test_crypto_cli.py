"""``quickcam keygen / decrypt / inspect`` as a user runs them: the real console script."""

from __future__ import annotations

import io
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from dotenv import dotenv_values

from quickcam.common import crypto_cli
from quickcam.common import cryptofile as cf

QUICKCAM = Path(sys.executable).with_name("quickcam")
CLIP = "01J9ZQ5W3V8K6T2R4M7N1P0XYZ"
START_MS = 1_717_171_717_171  # 2024-05-31 16:08:37.171 UTC


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def quickcam(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Result:
    """Run the installed console script; without one, the click commands in-process."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ENCRYPTION_")}
    clean.update(env or {})
    if QUICKCAM.exists():
        done = subprocess.run([str(QUICKCAM), *args], cwd=cwd, env=clean, capture_output=True, text=True, timeout=60)
        return Result(done.returncode, done.stdout, done.stderr)
    command = getattr(crypto_cli, args[0])
    old = Path.cwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(command, list(args[1:]), env=clean)
    finally:
        os.chdir(old)
    return Result(result.exit_code, result.stdout, result.stderr)


def write_clip(
    path: Path,
    key: cf.SymmetricKey | cf.RecipientPublicKey,
    data: bytes,
    *,
    content_type: str = "video/mp4",
    message_id: str = CLIP,
    sequence: int = 0,
) -> Path:
    ctx = cf.Context("cam0", message_id, sequence, START_MS, content_type, len(data))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        cf.encrypt(data, out, key, ctx)
    return path


def test_keygen_prints_one_encryption_key_line_that_loads(tmp_path: Path) -> None:
    result = quickcam("keygen", cwd=tmp_path)
    assert result.code == 0, result.stderr
    (line,) = result.stdout.splitlines()
    name, _, value = line.partition("=")
    assert name == "ENCRYPTION_KEY"
    key = cf.SymmetricKey.from_hex(value)
    assert key.key_id in result.stderr and value not in result.stderr


def test_keygen_recipient_writes_a_private_file_0600_and_a_public_file_beside_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "keys").mkdir()
    result = quickcam("keygen", "--recipient", "keys/owner", cwd=tmp_path)
    assert result.code == 0, result.stderr
    private_path, public_path = tmp_path / "keys/owner", tmp_path / "keys/owner.pub"
    assert stat.S_IMODE(private_path.stat().st_mode) == 0o600
    private = cf.RecipientPrivateKey.load(private_path)
    assert cf.RecipientPublicKey.load(public_path) == private.public_key()
    assert private.key_id in result.stdout
    printed = result.stdout + result.stderr
    assert "BEGIN PRIVATE KEY" not in printed
    assert private._key.private_bytes_raw().hex() not in printed
    again = quickcam("keygen", "--recipient", "keys/owner", cwd=tmp_path)
    assert again.code == 2 and "already exists" in again.stderr
    assert cf.RecipientPrivateKey.load(private_path).key_id == private.key_id


@pytest.fixture
def store(tmp_path: Path) -> dict:
    """A folder as a back end leaves it: good files of both modes, and one of each failure."""
    key = cf.SymmetricKey.generate()
    other = cf.SymmetricKey.generate()
    owner = cf.RecipientPrivateKey.generate()
    (tmp_path / "owner.key").write_bytes(owner.to_pem())
    (tmp_path / "tokens.env").write_text(f"ENCRYPTION_KEY={key.to_hex()}\n")
    root = tmp_path / "store"
    video = os.urandom(150_000)
    photo = os.urandom(3_000)
    write_clip(root / "cam0" / f"{CLIP}-0001.qsc", key, video, sequence=1)
    write_clip(
        root / "cam0/snaps" / "01J9ZQ5W3V8K6T2R4M7N1P0XZZ.qsc",
        owner.public_key(),
        photo,
        content_type="image/jpeg",
        message_id="01J9ZQ5W3V8K6T2R4M7N1P0XZZ",
    )
    bad = {
        "damaged": write_clip(root / "bad/damaged.qsc", key, b"x" * 500),
        "truncated": write_clip(root / "bad/truncated.qsc", key, b"y" * 500),
        "wrong key": write_clip(root / "bad/wrongkey.qsc", other, b"z" * 500),
        "unknown version": write_clip(root / "bad/future.qsc", key, b"v" * 500),
        "not a quickcam file": root / "bad/notes.qsc",
    }
    data = bytearray(bad["damaged"].read_bytes())
    data[-20] ^= 4
    bad["damaged"].write_bytes(data)
    bad["truncated"].write_bytes(bad["truncated"].read_bytes()[:-7])
    data = bytearray(bad["unknown version"].read_bytes())
    data[8] = 2
    bad["unknown version"].write_bytes(data)
    bad["not a quickcam file"].write_text("shopping list\n")
    return {"root": tmp_path, "key": key, "owner": owner, "video": video, "photo": photo, "bad": bad}


def test_decrypt_writes_playable_clips_and_names_each_failure_in_one_line(store: dict) -> None:
    root = store["root"]
    result = quickcam("decrypt", "store", "-o", "out", cwd=root, env={"ENCRYPTION_PRIVATE_KEY_FILE": "owner.key"})
    assert result.code == 1
    out = root / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        f"cam0_20240531T160837.171Z_{CLIP}_0001.mp4",
        "cam0_20240531T160837.171Z_01J9ZQ5W3V8K6T2R4M7N1P0XZZ_0000.jpg",
    ]
    assert (out / f"cam0_20240531T160837.171Z_{CLIP}_0001.mp4").read_bytes() == store["video"]
    lines = result.stderr.strip().splitlines()
    for cause, path in store["bad"].items():
        (line,) = [x for x in lines if x.startswith(str(path.relative_to(root)) + ":")]
        assert line.split(": ")[1] == cause
    assert lines[-1] == (
        "decrypted 2, skipped 0 already present, failed 5, 1 damaged, 1 not a quickcam file, "
        "1 truncated, 1 unknown version, 1 wrong key"
    )
    assert store["key"].to_hex() not in result.stdout + result.stderr


def test_decrypt_of_a_folder_skips_names_starting_with_a_dot(store: dict) -> None:
    """docs/encryption.md: a walk MUST skip names starting with '.' (a copy in progress); an outside run of
    `quickcam decrypt FOLDER` read `.partial-copy.qsc` and `.hidden/x.qsc` and failed (exit 1) on them."""
    root = store["root"]
    good = next((root / "store/cam0").glob("*.qsc"))
    (root / "walk/.hidden").mkdir(parents=True)
    (root / "walk/ok.qsc").write_bytes(good.read_bytes())
    (root / "walk/.partial-copy.qsc").write_bytes(good.read_bytes()[:100])
    (root / "walk/.hidden/x.qsc").write_bytes(good.read_bytes()[:50])
    result = quickcam("decrypt", "walk", "-o", "out", cwd=root)
    assert result.code == 0 and result.stderr.strip().splitlines()[-1].startswith("decrypted 1,"), result.stderr
    assert quickcam("decrypt", "walk/.partial-copy.qsc", "-o", "out2", cwd=root).code == 1  # named: read


def test_decrypt_again_skips_what_is_there_and_succeeds(store: dict) -> None:
    root = store["root"]
    good = str(next((root / "store/cam0").glob("*.qsc")).relative_to(root))
    assert quickcam("decrypt", good, "-o", "out", cwd=root).code == 0
    again = quickcam("decrypt", good, "-o", "out", cwd=root)
    assert again.code == 0 and "skipped" in again.stderr
    assert quickcam("decrypt", good, "-o", "out", "--overwrite", cwd=root).code == 0


def test_a_damaged_file_leaves_no_partial_output(store: dict, tmp_path: Path) -> None:
    key = store["key"]
    big = write_clip(tmp_path / "big.qsc", key, os.urandom(5 * cf.SEGMENT_SIZE))
    data = bytearray(big.read_bytes())
    data[-100] ^= 1  # only the last segment fails, after four were written to the temp file
    big.write_bytes(data)
    result = quickcam("decrypt", str(big), "-o", "out", cwd=store["root"])
    assert result.code == 1 and "damaged: segment 5 (of 6, numbered from 0)" in result.stderr
    assert list((store["root"] / "out").iterdir()) == []


def test_decrypt_takes_keys_from_the_env_file_and_the_environment_wins(store: dict) -> None:
    root = store["root"]
    good = str(next((root / "store/cam0").glob("*.qsc")).relative_to(root))
    (root / "other.env").write_text(f"ENCRYPTION_KEY={'11' * 32}\n")
    wrong = quickcam("decrypt", good, "-o", "o1", "--env-file", "other.env", cwd=root)
    assert wrong.code == 1 and "wrong key" in wrong.stderr
    env = {"ENCRYPTION_KEY": store["key"].to_hex()}
    right = quickcam("decrypt", good, "-o", "o2", "--env-file", "other.env", cwd=root, env=env)
    assert right.code == 0, right.stderr


def test_decrypt_without_any_key_says_how_to_provide_one(tmp_path: Path) -> None:
    result = quickcam("decrypt", "x.qsc", "-o", "out", cwd=tmp_path)
    assert result.code == 2
    assert result.stderr.strip().splitlines() == [
        "quickcam: no keys: set ENCRYPTION_KEY (and ENCRYPTION_KEYS_OLD) or "
        "ENCRYPTION_PRIVATE_KEY_FILE in the environment or tokens.env"
    ]


def test_decrypt_refuses_a_file_whose_name_names_another_clip(store: dict) -> None:
    root = store["root"]
    source = next((root / "store/cam0").glob("*.qsc"))
    swapped = root / "01J9ZQ5W3V8K6T2R4M7N1P0AAA-0001.qsc"
    swapped.write_bytes(source.read_bytes())
    result = quickcam("decrypt", swapped.name, "-o", "out", cwd=root)
    assert result.code == 1 and "name mismatch" in result.stderr


def test_inspect_prints_the_header_without_a_key_and_spots_truncation(store: dict) -> None:
    root = store["root"]
    good = next((root / "store/cam0").glob("*.qsc")).relative_to(root)
    truncated = store["bad"]["truncated"].relative_to(root)
    result = quickcam("inspect", str(good), str(truncated), cwd=root)
    assert result.code == 0, result.stderr
    header = cf.read_header(io.BytesIO((root / good).read_bytes()))
    for expected in (
        f"key id:         {store['key'].key_id}",
        "mode:           1 (symmetric: ENCRYPTION_KEY)",
        "camera:         cam0",
        f"clip:           {CLIP}",
        "sequence:       1",
        "start:          2024-05-31 16:08:37.171 UTC (1717171717171 ms)",
        "content type:   video/mp4",
        "plaintext:      150000 bytes",
        f"file size:      {header.file_size} bytes, complete",
        "TRUNCATED: 7 bytes missing",
    ):
        assert expected in result.stdout
    bad = quickcam("inspect", str(store["bad"]["not a quickcam file"]), cwd=root)
    assert bad.code == 1 and "not a quickcam file" in bad.stderr


def test_no_command_accepts_a_key_on_the_command_line() -> None:
    for command in (crypto_cli.keygen, crypto_cli.decrypt, crypto_cli.inspect):
        names = {opt for param in command.params for opt in getattr(param, "opts", [])}
        assert not {n for n in names if "key" in n and n != "--recipient"}, names


@pytest.mark.parametrize(
    ("content_type", "extension"),
    [("video/mp4", ".mp4"), ("image/jpeg", ".jpg"), ("video/x-matroska", ".mkv"), ("x/y", ".bin")],
)
def test_output_names_keep_clips_playable_and_paths_safe(content_type: str, extension: str) -> None:
    ctx = cf.Context("../../etc", "a/b", 12, 0, content_type, 0)
    name = crypto_cli.output_name(ctx)
    assert name == f"etc_19700101T000000.000Z_a-b_0012{extension}"


def test_keygen_curve_writes_a_zmq_key_pair_with_a_private_secret(tmp_path: Path) -> None:
    import zmq.auth

    run = subprocess.run([QUICKCAM, "keygen", "--curve", "cam1"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    public, secret = zmq.auth.load_certificate(tmp_path / "cam1.key_secret")
    assert secret and public == zmq.auth.load_certificate(tmp_path / "cam1.key")[0]
    assert (tmp_path / "cam1.key_secret").stat().st_mode & 0o077 == 0
    assert secret.decode() not in run.stdout + run.stderr
    again = subprocess.run([QUICKCAM, "keygen", "--curve", "cam1"], cwd=tmp_path, capture_output=True,
                           text=True, timeout=60)
    assert again.returncode != 0 and "already exists" in again.stderr


@pytest.fixture
def big_clips(tmp_path: Path) -> Path:
    """Four 32 MB clips: decrypting them takes long enough to be interrupted mid-file."""
    key = cf.SymmetricKey.generate()
    (tmp_path / "tokens.env").write_text(f"ENCRYPTION_KEY={key.to_hex()}\n")
    data = os.urandom(1 << 20) * 32
    for n in range(4):
        clip = f"01J9ZQ5W3V8K6T2R4M7N1P0X{n:02d}"
        write_clip(tmp_path / "big" / f"{clip}.qsc", key, data, message_id=clip)
    return tmp_path


def _interrupt_mid_file(root: Path, signum: int) -> subprocess.Popen:
    """Start ``quickcam decrypt``, send ``signum`` while a temporary plaintext file exists."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENCRYPTION_")}
    proc = subprocess.Popen([str(QUICKCAM), "decrypt", "big", "-o", "out"], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not list((root / "out").glob(".*.part")):
        assert proc.poll() is None and time.monotonic() < deadline, "decrypt ended before it could be interrupted"
        time.sleep(0.002)
    proc.send_signal(signum)
    proc.wait(timeout=30)
    return proc


@pytest.mark.skipif(not QUICKCAM.exists(), reason="needs the installed quickcam console script")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_decrypt_stopped_by_a_signal_leaves_no_plaintext_part_file(big_clips: Path, signum: int) -> None:
    proc = _interrupt_mid_file(big_clips, signum)
    whole = sorted((big_clips / "out").glob("*.mp4"))
    # Stopped mid-run, it fails; only a signal that came after the last file (a loaded machine) may find it done.
    assert proc.returncode != 0 or len(whole) == 4, (proc.returncode, whole)
    assert list((big_clips / "out").glob(".*")) == []
    assert "Traceback" not in proc.stderr.read().decode()


@pytest.mark.skipif(not QUICKCAM.exists(), reason="needs the installed quickcam console script")
def test_decrypt_removes_the_part_file_a_killed_run_left(big_clips: Path) -> None:
    _interrupt_mid_file(big_clips, signal.SIGKILL)
    (left,) = (big_clips / "out").glob(".*.part")  # SIGKILL cannot be caught: the next run cleans up
    shutil.rmtree(big_clips / "big")
    key = cf.SymmetricKey.from_hex(dotenv_values(big_clips / "tokens.env")["ENCRYPTION_KEY"])
    write_clip(big_clips / "small" / f"{CLIP}.qsc", key, b"x" * 100)
    again = quickcam("decrypt", "small", "-o", "out", cwd=big_clips)
    assert again.code == 0, again.stderr
    assert not left.exists() and f"removed {Path('out') / left.name}" in again.stderr
    assert [p.name for p in (big_clips / "out").iterdir()] == [
        crypto_cli.output_name(cf.Context("cam0", CLIP, 0, START_MS, "video/mp4", 100))]


def test_uploader_logs_decrypt_into_their_own_folder_as_log_files() -> None:
    ctx = cf.Context("vm", CLIP, 0, START_MS, cf.LOG_CONTENT_TYPE, 10)
    assert crypto_cli.output_name(ctx) == f"logs/vm_20240531T160837.171Z_{CLIP}.log"
