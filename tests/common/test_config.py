"""Config: defaults, the example file, environment overrides, one-line errors."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from quickcam.common.config import Config, ConfigError, load_config
from tests.conftest import QUICKCAM, REPO


def test_example_file_documents_exactly_the_defaults() -> None:
    assert load_config(REPO / "quickcam.example.toml", environ={}) == Config()


def test_original_tools_knobs_have_their_original_defaults() -> None:
    config = load_config(environ={})
    assert (config.camera.width, config.camera.height) == (640, 480)
    # min_area_fraction (1/64) and dark_interval_s (5 s) no longer keep the original tool's values:
    # they missed small and night-time intruders (issue 13, docs/benchmarks.md section 7).
    assert config.motion.min_area_fraction == 0.002
    assert config.motion.dark_threshold == 10.0
    assert config.motion.dark_interval_s is None  # opt-in: every frame is watched in the dark
    assert config.uploader.remote_folder == "webcam_captures"
    assert config.env_file == Path("tokens.env")


def test_environment_overrides_any_key_including_nested_storage_options(tmp_path: Path) -> None:
    file = tmp_path / "q.toml"
    file.write_text('[camera]\nwidth = 800\n[storage.local]\npath = "a"\n')
    config = load_config(file, environ={
        "QUICKCAM_CAMERA__WIDTH": "320",
        "QUICKCAM_STORAGE__LOCAL__PATH": "/mnt/nas",
        "QUICKCAM_UPLOADER__DESTINATIONS": "local, nas",
        "UNRELATED": "x",
    })
    assert config.camera.width == 320
    assert config.storage["local"]["path"] == "/mnt/nas"
    assert config.uploader.destinations == ["local", "nas"]


@pytest.mark.parametrize(
    ("toml", "env", "expected"),
    [
        ("[camera]\nwidth = -5\n", {}, "camera.width: input should be greater than 0"),
        ("[camera]\nwidht = 5\n", {}, "camera.widht: unknown key"),
        ("", {"QUICKCAM_MOTION__MIN_AREA_FRACTION": "2"}, "QUICKCAM_MOTION__MIN_AREA_FRACTION"),
        ("[camera]\nsource = 'webcam'\n", {}, "camera.source: input should be 'demo', 'camera'"),
        ("[link]\nendpoint = 'http://x'\n", {}, "link.endpoint"),
        ("[camera\n", {}, "is not valid TOML"),
        # true is not the number 1 (pydantic's lax mode took it as 1: a one-second segment); said as written
        ("[recording]\nsegment_s = true\n", {}, "recording.segment_s: input should be a number, got true;"),
        # taken, then refused by the uploader on every hello: the footage stayed in the outbox for good
        ("[camera]\nid = '..'\n", {}, "camera.id: must be 1-64 of A-Z a-z 0-9 _ . - and not . or .. (the uploader"),
        ("[[cameras]]\nid = '.'\n", {}, "cameras.0.id: must be 1-64 of A-Z a-z 0-9 _ . - and not . or .."),
        # the model's own check named no key (`config error: : value error, camera ids ...`)
        ("[[cameras]]\nid = 'a'\n[[cameras]]\nid = 'a'\n", {}, "config error: cameras: camera ids must be unique; "
         "repeated: a; fix it in"),
        # taken, the uploader refused every hello (at most 64 cameras in one): nothing left the outbox
        ("".join(f"[[cameras]]\nid = 'c{i}'\n" for i in range(65)), {}, "config error: cameras: at most 64 per "
         "detector, 65 given (a hello lists 1 to 64 camera ids); run a second detector for the rest; fix it in"),
        # taken at start, then every upload failed for good ("remote key ... escapes the storage folder")
        ("[uploader]\nremote_folder = '../outside'\n", {}, "config error: uploader.remote_folder: must be a folder "
         "inside the storage, not absolute and without '..' (e.g. \"webcam_captures\" or \"home/cam1\"); set it to "
         "one, got '../outside'; fix it in"),
        ("[uploader]\nremote_folder = '/srv/footage'\n", {}, "uploader.remote_folder: must be a folder inside"),
        ("", {"QUICKCAM_UPLOADER__REMOTE_FOLDER": "cams/../../x"}, "QUICKCAM_UPLOADER__REMOTE_FOLDER"),
        # the same for alert targets (`config error: alerts: value error, alert target names ...`)
        ("[[alerts.targets]]\nname = 'p'\nurl_env = 'A'\n[[alerts.targets]]\nname = 'p'\nurl_env = 'B'\n", {},
         "config error: alerts.targets: target names must be unique; repeated: p; give each [[alerts.targets]] its "
         "own name; fix it in"),
    ],
)
def test_bad_values_name_the_key_and_where_to_fix_it(tmp_path: Path, toml: str, env: dict, expected: str) -> None:
    file = tmp_path / "bad.toml"
    file.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        load_config(file, environ=env)
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message


def test_destinations_from_the_environment_as_a_toml_list_or_a_bad_one_named() -> None:
    # '["local"]' (the config file's own way) was one destination named '["local"]' (FINDINGS #53)
    config = load_config(None, {"QUICKCAM_UPLOADER__DESTINATIONS": '["local", "nas"]',
                                "QUICKCAM_STORAGE__NAS__PATH": "nas"})
    assert config.uploader.destinations == ["local", "nas"]
    with pytest.raises(ConfigError) as bad:
        load_config(None, {"QUICKCAM_UPLOADER__DESTINATIONS": "[local"})
    assert str(bad.value).startswith("config error: uploader.destinations: write the names as local,nas or as a "
                                     "TOML list"), bad.value
    assert "fix it in environment variable QUICKCAM_UPLOADER__DESTINATIONS" in str(bad.value)


def test_missing_config_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="quickcam.example.toml"):
        load_config(tmp_path / "nope.toml", environ={})


@pytest.mark.parametrize("command", ["detector", "uploader"])
def test_cli_turns_a_config_error_into_one_line_and_exit_code_2(tmp_path: Path, command: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[motion]\npixel_threshold = 999\n")
    run = subprocess.run([QUICKCAM, command, "--config", str(bad)], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert "motion.pixel_threshold" in lines[0]
    assert "Traceback" not in run.stderr


def test_uploader_without_a_key_says_how_to_make_one(tmp_path: Path) -> None:
    run = subprocess.run([QUICKCAM, "uploader", "--seconds", "1"], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
    assert run.returncode == 2
    assert "quickcam keygen" in run.stderr
    assert "Traceback" not in run.stderr


def test_an_unreadable_tokens_env_is_a_config_error_naming_the_fix(tmp_path: Path) -> None:
    from quickcam.common.secrets import load_secrets

    env_file = tmp_path / "tokens.env"
    env_file.write_bytes(b"ENCRYPTION_KEY=\xff\xfe\n")
    with pytest.raises(ConfigError, match="chmod 600"):
        load_secrets(env_file, environ={})


def test_tokens_env_values_are_taken_as_written_with_no_dollar_expansion(tmp_path: Path) -> None:
    """docs/encryption.md, tokens.env syntax: a password holding ${...} was expanded by python-dotenv, in
    'single quotes' too (an outside client's ${HOME} became /root); also CRLF, a BOM, the last of a repeat."""
    from quickcam.common.secrets import load_secrets

    env_file = tmp_path / "tokens.env"
    env_file.write_bytes(b"\xef\xbb\xbfP=abc\r\nA=x${P}y\r\nB='x${HOME}y'\r\nC=\"x${P}\\ny\"\r\nD=1\r\nD=2 # c\r\n")
    env_file.chmod(0o600)
    got = load_secrets(env_file, environ={})
    assert (got["P"], got["A"], got["B"], got["C"], got["D"]) == ("abc", "x${P}y", "x${HOME}y", "x${P}\ny", "2")


def test_storage_options_from_the_environment_keep_their_types() -> None:
    config = load_config(environ={
        "QUICKCAM_STORAGE__NAS__TIMEOUT": "30",
        "QUICKCAM_STORAGE__NAS__VERIFY": "false",
        "QUICKCAM_STORAGE__NAS__URL": "sftp://nas/footage",
        "QUICKCAM_STORAGE__NAS__RATIO": "0.5",
    })
    assert config.storage["nas"] == {"timeout": 30, "verify": False, "url": "sftp://nas/footage", "ratio": 0.5}


def test_a_typo_in_a_shared_section_is_reported_once_where_written_with_a_suggestion(tmp_path: Path) -> None:
    file = tmp_path / "q.toml"
    file.write_text("[motion]\npixel_treshold = 30\n")
    with pytest.raises(ConfigError) as caught:
        load_config(file, environ={})
    assert str(caught.value) == (f"config error: motion.pixel_treshold: unknown key (did you mean pixel_threshold?); "
                                 f"fix it in {file}")


def test_two_mistakes_are_each_reported_once_on_their_own_line(tmp_path: Path) -> None:
    file = tmp_path / "q.toml"
    file.write_text("[motion]\npixel_threshold = 0\n[[cameras]]\nid = \"a\"\nfsp = 3\n")
    with pytest.raises(ConfigError) as caught:
        load_config(file, environ={})
    lines = str(caught.value).splitlines()
    assert len(lines) == 2, lines
    assert f"config error: cameras.0.fsp: unknown key (did you mean fps?); fix it in {file}" in lines
    assert any(line.startswith("config error: motion.pixel_threshold: input should be greater than or equal to 1")
               for line in lines), lines


def test_a_misspelt_environment_section_names_the_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(environ={"QUICKCAM_CAMRA__INDEX": "1"})
    assert str(caught.value) == ("config error: camra: unknown key (did you mean camera?); "
                                 "fix it in environment variable QUICKCAM_CAMRA__INDEX")


def test_doctor_shows_a_config_error_with_a_single_fix(tmp_path: Path) -> None:
    (tmp_path / "q.toml").write_text("[motion]\npixel_treshold = 30\n")
    done = subprocess.run([QUICKCAM, "doctor", "--config", "q.toml"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    (line,) = [line for line in done.stdout.splitlines() if "config" in line]
    assert line.count("fix") == 1 and "did you mean pixel_threshold?" in line, line


def test_a_config_saved_with_a_byte_order_mark_and_crlf_loads(tmp_path: Path) -> None:
    # As Notepad saves it: refused as "not valid TOML: Invalid statement (at line 1, column 1)", a character nobody
    # can see, while the native detector (toml++) took the same file.
    file = tmp_path / "quickcam.toml"
    file.write_bytes(b"\xef\xbb\xbf[camera]\r\nfps = 10\r\n")
    assert load_config(file, environ={}).camera.fps == 10
