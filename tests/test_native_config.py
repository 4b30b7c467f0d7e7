"""Every detector setting of quickcam.toml is honoured by the native detector, or refused or warned with one line.

A setting the native detector silently ignored would make it behave unlike the
Python detector with no word said. So: no key of the detector's sections may be
reported as unknown (that warning is for typos), and the opt-in ``idle_detect_fps``
is honoured (onsets come only at the idle looks). Zones are honoured as Python does
(tests/test_native_zones.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import get_args, get_origin

import msgpack
import pytest
import tomlkit
from pydantic import BaseModel

from quickcam.common.config import Config, ConfigError, load_config
from quickcam.detector.sources import Walk
from tests.conftest import QUICKCAM, private_endpoint
from tests.fakes.h264 import write_h264
from tests.native_build import native_detector

# Values for settings whose default is None (absent), so that every key is written.
SAMPLES = {"start": "2026-01-01T00:00:00", "dark_interval_s": 5.0, "dark_pixel_threshold": 8, "idle_detect_fps": 5.0,
           "cascade": "cascade.xml", "yunet_model": "yunet.onnx", "tls_cert": "cert.pem", "tls_key": "key.pem",
           "curve_secret_key_file": None, "curve_server_public_key_file": None, "curve_allow_dir": None}
DETECTOR_SECTIONS = ("camera", "motion", "recording", "faces", "link", "logging", "console", "low_power")
OTHER_SECTIONS = ("uploader", "alerts", "mqtt")  # not the detector's, but checked for typos by both


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    return env | {"QUICKCAM_LINK__ENDPOINT": private_endpoint(tmp_path)}


def _every_key() -> dict:
    """Each detector section with every one of its keys at a valid value (its default where it has one)."""
    defaults = load_config(None, {}).model_dump(mode="json")
    document: dict = {}
    for section in DETECTOR_SECTIONS + OTHER_SECTIONS:
        values = {}
        for key, value in defaults[section].items():
            value = SAMPLES.get(key, value) if value is None else value
            if value is not None and key not in ("zones", "motion", "recording", "faces"):
                values[key] = value
        document[section] = values
    document["alerts"]["targets"] = [{"name": "phone", "url_env": "PHONE_URL", "alerts": ["motion"],
                                      "attach_snapshot": False}]
    return document


def test_no_setting_of_the_detector_is_unknown_to_the_native_detector(tmp_path: Path) -> None:
    document = _every_key()
    document["camera"]["event_keyframes_only"] = True  # an opt-in of passthrough's: read, and printed
    (tmp_path / "quickcam.toml").write_text(tomlkit.dumps(document))
    load_config(tmp_path / "quickcam.toml", {})  # valid for the Python detector
    run = subprocess.run([str(native_detector()), "--config", "quickcam.toml", "--print-config"], cwd=tmp_path,
                         env=_env(tmp_path), capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    assert "unknown key" not in run.stderr  # each is read, or warned with what the native detector does instead
    printed = json.loads(run.stdout)["cameras"][0]
    assert printed["motion"]["idle_detect_fps"] == 5.0 and printed["input_format"] == "auto"
    assert "motion.person_check" not in run.stderr  # false: nothing to warn about
    assert printed["event_keyframes_only"] is True and printed["idle_keyframes_only"] is False
    assert printed["fast_decode"] is False and "keyframes_only" not in run.stderr  # done, not warned


def _onset_s(root: Path, proc: subprocess.Popen) -> float:
    """Seconds into the clip of the first event's trigger frame (its snapshot), once its first segment is in."""
    outbox, deadline = root / "outbox", time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            headers = [msgpack.unpackb(path.read_bytes()) for path in outbox.glob("*.hdr")]
            snapshot = next((h for h in headers if h["type"] == "snapshot" and h["seq"] == 0), None)
            first = next((h for h in headers if h["type"] == "segment" and h["seq"] == 0), None)
            if snapshot and first:
                return (snapshot["time_ms"] - first["start_ms"]) / 1000  # the pre-roll reaches the clip's start
            time.sleep(0.05)
        raise AssertionError(proc.stderr.read() if proc.poll() is not None else "no event within 30 s")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)


def test_idle_detect_fps_looks_only_that_often_while_nothing_moves(tmp_path: Path) -> None:
    clip = write_h264(tmp_path / "clip.mp4", 4.0, fps=10.0, walks=(Walk(1.35, 4.0),))
    procs = {}
    for name, extra in (("every", ""), ("idle", "idle_detect_fps = 1.0\n")):
        root = tmp_path / name
        root.mkdir()
        (root / "quickcam.toml").write_text(
            f'[camera]\nsource = "file"\npath = "{clip}"\nrealtime = false\n'
            f'[recording]\npre_roll_s = 3.0\nsegment_s = 1.0\n[motion]\n{extra}')
        procs[name] = (root, subprocess.Popen([str(native_detector()), "--config", "quickcam.toml"], cwd=root,
                                              env=_env(root), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                              text=True))
    onsets = {name: _onset_s(root, proc) for name, (root, proc) in procs.items()}
    # Looks at 0, 1 and 2 s while nothing moves: the walker (in from 1.35 s) is first seen at 2.0 s, and the
    # next frame (every frame once something moves) makes the second detection of trigger_frames = 2.
    assert abs(onsets["idle"] - 2.1) < 0.01, onsets
    assert onsets["every"] < 1.9, onsets


def test_looking_less_often_than_the_pre_roll_the_footage_starts_at_the_last_quiet_look(tmp_path: Path) -> None:
    """One look every 4 s and a 1 s pre-roll (pipeline/detect.py's _first_pre_roll_ns): the walker comes in at
    4.5 s, just after the quiet look at 4 s, and is seen at the look at 8 s. The footage must start at that
    quiet look, not at the onset minus the pre-roll (7 s: the walker's first 2.5 s not recorded)."""
    clip = write_h264(tmp_path / "clip.mp4", 10.0, fps=10.0, walks=(Walk(4.5, 10.0),))
    (tmp_path / "quickcam.toml").write_text(
        f'[camera]\nsource = "file"\npath = "{clip}"\nrealtime = false\n'
        '[recording]\npre_roll_s = 1.0\nsegment_s = 1.0\n[motion]\nidle_detect_fps = 0.25\n')
    proc = subprocess.Popen([str(native_detector()), "--config", "quickcam.toml"], cwd=tmp_path,
                            env=_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # triggered at 8.1 s (the look at 8 s and the frame after); the first segment from the look at 4 s
    assert abs(_onset_s(tmp_path, proc) - 4.1) < 0.01


@pytest.mark.parametrize("detector", ["python", "native"])
def test_demo_gap_s_brings_the_walk_back_that_much_sooner_in_both_detectors(tmp_path: Path, detector: str) -> None:
    """``[camera] demo_gap_s`` moves the demo's walk back from 18 s of its script to 10 s + the gap: started at
    10 s with a 2 s gap, the first event is the walk back at 12 s (18 s with the default gap)."""
    (tmp_path / "quickcam.toml").write_text(
        '[camera]\nrealtime = false\ndemo_start_s = 10.0\ndemo_gap_s = 2.0\n[recording]\nsegment_s = 1.0\n')
    command = [str(native_detector())] if detector == "native" else [QUICKCAM, "detector"]
    proc = subprocess.Popen([*command, "--config", "quickcam.toml"], cwd=tmp_path, env=_env(tmp_path),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    outbox, deadline, snapshot = tmp_path / "outbox", time.monotonic() + 30, None
    try:
        while snapshot is None and time.monotonic() < deadline and proc.poll() is None:
            headers = [msgpack.unpackb(path.read_bytes()) for path in outbox.glob("*.hdr")]
            snapshot = next((h for h in headers if h["type"] == "snapshot" and h["seq"] == 0), None)
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=10)
    assert snapshot, err[-2000:]
    zero_ms = int(re.search(r"demo scene clock starts at (-?\d+) ms", err).group(1))
    assert 12.0 <= (snapshot["time_ms"] - zero_ms) / 1000 < 13.0, (snapshot["time_ms"] - zero_ms, err[-2000:])


WRONG_TYPES = {  # valid TOML of the wrong kind, and the key each detector names
    "camera = 5\n": "camera",
    '[[camera]]\nsource = "file"\npath = "garage.mp4"\n': "camera",  # a list of one table, meant as [[cameras]]
    "[camera]\nmotion = [1, 2]\n": "camera.motion",
    "cameras = [1]\n": "cameras.0",
    'logging = "DEBUG"\n': "logging",  # meant as [logging] level = "DEBUG"
    "[recording]\nsegment_s = true\n": "recording.segment_s",
    "[camera]\nsource = \"camera\"\nindex = false\n": "camera.index",
}


@pytest.mark.parametrize("config", list(WRONG_TYPES))
def test_valid_toml_of_the_wrong_type_is_refused_by_both_detectors_with_one_line_naming_the_key(
        tmp_path: Path, config: str) -> None:
    """Before, the native detector skipped a section that was not a table and ran on its defaults (the demo
    scene, not the camera: exit 0, and a watcher thinks the camera is up); the Python detector took ``true``
    for the number 1 (a one-second segment). Now both stop with exit 2 and one line naming the key."""
    _refused_by_both(tmp_path, config, WRONG_TYPES[config])


EXTREMES = {  # TOML numbers at their edges (bench/outside/config_extremes.py), and the key each detector names
    "[recording]\nmax_event_s = inf\n": "recording.max_event_s",  # the Python detector traced back
    "[recording]\noutbox_budget_mb = inf\n": "recording.outbox_budget_mb",  # every segment failed to encode
    "[link]\nheartbeat_s = 1e308\n": "link.heartbeat_s",  # the link failed and restarted in a loop
    "[link]\nack_timeout_s = inf\n": "link.ack_timeout_s",  # the same
    "[camera]\nfps = 1e-300\n": "camera.fps",  # Python traced back; native failed each segment's encoder
}


@pytest.mark.parametrize("config", list(EXTREMES))
def test_inf_and_numbers_past_reason_are_refused_by_both_detectors_with_one_line(tmp_path: Path, config: str) -> None:
    """Before, both took ``inf`` (a TOML float) and 1e308 wherever only a lower bound was checked."""
    _refused_by_both(tmp_path, config, EXTREMES[config])


def _refused_by_both(tmp_path: Path, config: str, key: str) -> None:
    """Both detectors refuse ``config`` with exit 2 and one line naming ``key``."""
    (tmp_path / "quickcam.toml").write_text(config)
    with pytest.raises(ConfigError) as python:
        load_config(tmp_path / "quickcam.toml", {})
    assert str(python.value).startswith(f"config error: {key}: ") and "\n" not in str(python.value), python.value
    run = subprocess.run([str(native_detector()), "--config", "quickcam.toml", "--print-config"], cwd=tmp_path,
                         env=_env(tmp_path), capture_output=True, text=True, timeout=30)
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stderr.strip().splitlines() == [
        next(line for line in run.stderr.splitlines() if f"config error: {key}: " in line)], run.stderr
    assert run.stderr.strip().endswith("; fix it in quickcam.toml"), run.stderr


def _sections(model: type[BaseModel] = Config, where: str = "") -> list[tuple[str, type[BaseModel]]]:
    """Each table of the config (dotted; a list's first entry as .0) and its model, as config_models.py has them."""
    found = [(where, model)]
    for name, field in model.model_fields.items():
        inner, dotted = field.annotation, f"{where}.{name}" if where else name
        if get_origin(inner) is list and get_args(inner):
            inner, dotted = get_args(inner)[0], dotted + ".0"
        if isinstance(inner, type) and issubclass(inner, BaseModel) and where.count(".") < 2:
            found += _sections(inner, dotted)
    return found


def _misspelt(key: str) -> str:
    """``key`` with its second and third letters swapped (soruce), or an x added where that changes nothing."""
    typo = key[:1] + key[2:3] + key[1:2] + key[3:]
    return typo if typo != key else key + "x"


def _with_key(where: str, key: str) -> dict:
    """A document with ``key`` (and the keys a list's entry needs) in the table ``where``."""
    document: dict = {}
    node = document
    parts = where.split(".") if where else []
    for k, part in enumerate(parts):
        if part == "0":
            continue
        if k + 1 < len(parts) and parts[k + 1] == "0":
            entry = {"name": "phone", "url_env": "PHONE_URL"} if part == "targets" else {}
            node[part] = [entry]
            node = entry
        else:
            node = node.setdefault(part, {})
    node[key] = {} if not where else 1
    return document


def test_a_misspelt_key_or_section_is_refused_by_both_detectors_with_the_same_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before, the native detector warned "unknown key ... ignored" and ran: ``soruce`` or ``[camrea]`` watched the
    demo scene (made-up events uploaded, the camera unwatched, status ok) where the Python detector stops with exit 2.
    Now each key of each table misspelt is refused by both with the same line (did-you-mean and all), which also
    holds the native detector's lists of known keys to config_models.py's."""
    monkeypatch.chdir(tmp_path)  # the file named as both name it
    differ = []
    for where, model in _sections():
        keys = [*model.model_fields, "nonsense_key"]
        for key in [_misspelt(k) for k in model.model_fields if _misspelt(k) not in model.model_fields] + keys[-1:]:
            (tmp_path / "quickcam.toml").write_text(tomlkit.dumps(_with_key(where, key)))
            with pytest.raises(ConfigError) as python:
                load_config(Path("quickcam.toml"), {})
            run = subprocess.run([str(native_detector()), "--config", "quickcam.toml", "--print-config"],
                                 cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=30)
            native = run.stderr.strip().removeprefix("quickcam-native-detector: ")
            if run.returncode != 2 or native != str(python.value):
                differ.append((where, key, str(python.value), run.returncode, native))
    assert differ == [], "\n".join(map(str, differ))


CONFIG_MISTAKES = {  # file, environment: the line both detectors stop with (exit 2)
    "env-section": ("", {"QUICKCAM_CAMRA__FPS": "10"},
                    "config error: camra: unknown key (did you mean camera?); fix it in environment variable "
                    "QUICKCAM_CAMRA__FPS"),
    "env-key": ("", {"QUICKCAM_RECORDING__SEGMENT": "10"},
                "config error: recording.segment: unknown key (did you mean segment_s?); fix it in environment "
                "variable QUICKCAM_RECORDING__SEGMENT"),
    "no-source": ('[camera]\npath = "rtsp://192.0.2.7/stream1"\n', {},
                  'config error: camera.source: is not set, but path is: the demo scene (made-up events) would run '
                  'instead of the camera; set source = "stream", "file" or "camera"; fix it in quickcam.toml'),
    "no-source-cameras": ('[[cameras]]\nid = "yard"\nindex = 1\n', {},
                          'config error: cameras.0.source: is not set, but index is: the demo scene (made-up events) '
                          'would run instead of the camera; set source = "stream", "file" or "camera"; fix it in '
                          'quickcam.toml'),
    "typo-in-unused-camera": ('[camera]\nsoruce = "stream"\n[[cameras]]\nsource = "demo"\n', {},
                              "config error: camera.soruce: unknown key (did you mean source?); fix it in "
                              "quickcam.toml"),
    "folder": (None, {}, "config file quickcam.toml cannot be read: Is a directory; name the config file, not its "
               "folder (--config quickcam.toml/quickcam.toml)"),
}


@pytest.mark.parametrize("detector", ["python", "native"])
@pytest.mark.parametrize("name", CONFIG_MISTAKES)
def test_a_config_mistake_that_ran_the_demo_scene_stops_both_detectors_with_one_line(
        tmp_path: Path, name: str, detector: str) -> None:
    """The native detector ran the demo scene on each (a folder taken for an empty file; a misspelt variable
    warned and ignored); both ran it for a camera with a path and no source (the default source is the demo)."""
    text, environ, expected = CONFIG_MISTAKES[name]
    if text is None:
        (tmp_path / "quickcam.toml").mkdir()
    else:
        (tmp_path / "quickcam.toml").write_text(text)
    command = [str(native_detector())] if detector == "native" else [QUICKCAM, "detector"]
    run = subprocess.run([*command, "--config", "quickcam.toml", "--seconds", "3"], cwd=tmp_path,
                         env=_env(tmp_path) | environ, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and run.stdout == "", run.stdout + run.stderr
    prefix = "quickcam-native-detector: " if detector == "native" else "quickcam: "
    assert run.stderr.splitlines() == [prefix + expected], run.stderr


@pytest.mark.skipif(shutil.which("setpriv") is None or os.geteuid() != 0, reason="drops root's read-anything")
@pytest.mark.parametrize("detector", ["python", "native"])
def test_a_config_file_the_detector_may_not_read_is_said_so_not_missing(tmp_path: Path, detector: str) -> None:
    """Mode 000 (without CAP_DAC_*): the native detector said "not found; copy quickcam.example.toml", the Python one
    click's three-line usage error "Path 'quickcam.toml' is not readable". Now both: why, and the fix."""
    (tmp_path / "quickcam.toml").write_text('[camera]\nsource = "demo"\n')
    (tmp_path / "quickcam.toml").chmod(0)
    command = [str(native_detector())] if detector == "native" else [QUICKCAM, "detector"]
    no_override = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--inh-caps",
                   "-dac_override,-dac_read_search"]
    run = subprocess.run([*no_override, *command, "--config", "quickcam.toml", "--seconds", "3"], cwd=tmp_path,
                         env=_env(tmp_path), capture_output=True, text=True, timeout=60)
    prefix = "quickcam-native-detector: " if detector == "native" else "quickcam: "
    assert run.returncode == 2 and run.stderr.splitlines() == [
        prefix + "config file quickcam.toml cannot be read: Permission denied; let the user this runs as read it "
        "(chmod, chown)"], run.stderr


@pytest.mark.parametrize("text", ["", "# quickcam.toml\n\n"])
def test_a_config_file_with_no_setting_is_refused_by_both_detectors_unless_the_environment_sets_them(
        tmp_path: Path, text: str) -> None:
    """A save cut short or a `>` for `>>` left quickcam.toml empty: both detectors (and the uploader, status and its
    health check: one load_config) ran on the defaults, the demo scene's made-up events instead of the camera,
    status `ok` (bench/outside/config_garbage_live.py --case empty). Settings from the environment still count."""
    (tmp_path / "quickcam.toml").write_text(text)
    said = "config file quickcam.toml holds no setting"
    with pytest.raises(ConfigError) as python:
        load_config(tmp_path / "quickcam.toml", {"QUICKCAM_ENV_FILE": "x.env"})
    assert "holds no setting" in str(python.value) and "\n" not in str(python.value)
    assert load_config(tmp_path / "quickcam.toml", {"QUICKCAM_CAMERA__SOURCE": "demo"}).camera.source == "demo"
    run = subprocess.run([str(native_detector()), "--config", "quickcam.toml", "--print-config"], cwd=tmp_path,
                         env={k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")},
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 2 and run.stderr.strip().splitlines() == [
        f"quickcam-native-detector: {said} (a save cut short, or > for >>?): the demo scene would be watched "
        "instead of the camera; put its settings back (copy quickcam.example.toml)"], run.stderr
    run = subprocess.run([str(native_detector()), "--config", "quickcam.toml", "--print-config"], cwd=tmp_path,
                         env=_env(tmp_path), capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr  # QUICKCAM_LINK__ENDPOINT set: configured by the environment


@pytest.mark.parametrize("text", [" 5 ", "1_5", "0x10", "1e1", "_5", "5_", "1__5", "7,5"])
def test_a_number_from_the_environment_is_read_alike_by_both_detectors(tmp_path: Path, text: str) -> None:
    """The native detector's std::stod took 0x10 for 16 and refused " 5 " and 1_5, which the Python detector ran
    with (its float()): one environment, one detector running, the other refusing (FINDINGS #52, env_odd.py)."""
    try:
        python: float | None = load_config(None, {"QUICKCAM_CAMERA__FPS": text}).camera.fps
    except ConfigError:
        python = None
    run = subprocess.run([str(native_detector()), "--print-config"], cwd=tmp_path, capture_output=True, text=True,
                         env=_env(tmp_path) | {"QUICKCAM_CAMERA__FPS": text}, timeout=30)
    native = json.loads(run.stdout)["cameras"][0]["fps"] if run.returncode == 0 else None
    assert run.returncode in (0, 2), run.stderr
    assert native == python, (python, native, run.stderr)
