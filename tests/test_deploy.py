"""Deployment files, checked statically: no container engine or systemd runs here.

The compose file, the Dockerfile, the compose snippets in docs/deploy.md and the
systemd units are parsed and held to what docs/deploy.md promises; where a tool
can check more offline (``systemd-analyze verify``) it does.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from quickcam.common.config import load_config
from tests.conftest import QUICKCAM, REPO

CONFIG_IN_CONTAINER = "/config/quickcam.toml"
UNITS = REPO / "scripts" / "systemd"


class _ComposeLoader(yaml.SafeLoader):
    """PyYAML's safe loader plus Compose's ``!reset`` and ``!override`` merge tags."""


for _tag in ("!reset", "!override"):
    _ComposeLoader.add_constructor(_tag, lambda loader, node: (
        loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode)
        else loader.construct_mapping(node) if isinstance(node, yaml.MappingNode)
        else loader.construct_scalar(node)))


def _compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def _dockerfile() -> str:
    return (REPO / "Dockerfile").read_text()


def _instructions(name: str) -> list[str]:
    """Dockerfile instructions of one kind, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", _dockerfile())
    return [line.split(None, 1)[1] for line in text.splitlines() if line.split(None, 1)[:1] == [name]]


def _env_in_image() -> dict[str, str]:
    env = {}
    for instruction in _instructions("ENV"):
        env.update(dict(re.findall(r"(\w+)=(\S+)", instruction)))
    return env


# -- compose ------------------------------------------------------------------------


def test_compose_runs_detector_and_uploader_from_one_image() -> None:
    services = _compose()["services"]
    assert set(services) == {"detector", "uploader"}
    assert services["uploader"]["command"][0] == "uploader"
    assert services["detector"]["command"][0] == "detector"
    images = {svc.get("image") for svc in services.values()}
    assert len(images) == 1 and None not in images


def test_compose_gives_the_camera_to_the_detector_and_storage_to_the_uploader() -> None:
    services = _compose()["services"]
    assert any("/dev/video" in device for device in services["detector"]["devices"])
    uploader_mounts = " ".join(services["uploader"]["volumes"])
    for target in ("/data/spool", "/data/state", "/data/storage"):
        assert target in uploader_mounts
    assert "/data/outbox" in " ".join(services["detector"]["volumes"])


def test_compose_links_the_two_services_by_the_private_socket_on_a_shared_volume() -> None:
    """The default endpoint, relative to WORKDIR /data, lands on one volume both mount; no port, no plain TCP."""
    compose = _compose()
    workdir = Path(_instructions("WORKDIR")[-1])
    socket_folder = workdir / Path(load_config(None, {}).link.endpoint.removeprefix("ipc://")).parent
    for name, service in compose["services"].items():
        assert f"link:{socket_folder}" in service["volumes"], name
        assert not any(k.startswith("QUICKCAM_LINK__") for k in service.get("environment", {})), name
        assert "ports" not in service, name
    assert "link" in compose["volumes"]
    run = " ".join(_instructions("RUN"))
    assert str(socket_folder) in run and f"chmod 700 {socket_folder}" in run  # the volume starts 0700


def test_each_service_reads_the_config_its_command_and_health_check_name() -> None:
    for name, service in _compose()["services"].items():
        assert service["command"][-2:] == ["--config", CONFIG_IN_CONTAINER], name
        assert any(v.split(":")[1] == CONFIG_IN_CONTAINER and v.endswith(":ro") for v in service["volumes"]), name


def test_default_relative_folders_land_on_the_mounted_volumes() -> None:
    """The image's WORKDIR is /data: the config's relative defaults must resolve onto the volumes."""
    workdir = Path(_instructions("WORKDIR")[-1])
    config = load_config(None, {})
    services = _compose()["services"]
    targets = {name: {v.split(":")[1] for v in svc["volumes"]} for name, svc in services.items()}
    assert str(workdir / config.recording.outbox_dir) in targets["detector"]
    for folder in (config.uploader.spool_dir, config.uploader.state_dir, Path(config.storage["local"]["path"])):
        assert str(workdir / folder) in targets["uploader"]
    log_dir = str(Path(_env_in_image()["QUICKCAM_LOGGING__FILE"]).parent)
    assert all(log_dir in mounts for mounts in targets.values())  # logs survive a container rebuild


def test_every_quickcam_setting_in_compose_and_image_is_a_valid_config_key() -> None:
    image_env = {k: v for k, v in _env_in_image().items() if k.startswith("QUICKCAM_")}
    for service in _compose()["services"].values():
        env = {**image_env, **service.get("environment", {})}
        load_config(None, env)  # raises ConfigError naming the key
    assert load_config(None, image_env).env_file == Path("/run/secrets/tokens.env")


def test_secrets_are_passed_as_compose_secrets_not_baked_into_the_image() -> None:
    compose = _compose()
    assert compose["secrets"]["tokens.env"] == {"file": "./tokens.env"}
    assert compose["services"]["uploader"]["secrets"] == ["tokens.env"]
    assert "secrets" not in compose["services"]["detector"]  # it needs no key
    assert not re.search(r"^\s*(COPY|ADD)\b.*(tokens\.env|\.key|\.toml\b(?<!pyproject\.toml))", _dockerfile(), re.M)
    assert _env_in_image()["QUICKCAM_ENV_FILE"] == "/run/secrets/tokens.env"
    assert not any(re.search(r"KEY|TOKEN|SECRET|PASSWORD", k) for svc in compose["services"].values()
                   for k in svc.get("environment", {}) if not k.startswith("QUICKCAM_LINK__CURVE"))


def test_containers_get_time_to_hand_over_footage_when_stopped() -> None:
    for name, service in _compose()["services"].items():
        grace = service["stop_grace_period"]
        assert grace.endswith("s") and int(grace[:-1]) >= 20, name  # uploader drains 10 s; detector 5 s + segment
        assert service["restart"] == "unless-stopped"


# -- Dockerfile ---------------------------------------------------------------------


def test_image_is_slim_runs_as_a_non_root_user_and_has_opencv_runtime_libraries() -> None:
    assert re.match(r"python:3\.1[1-9]-slim", _instructions("FROM")[0])
    users = _instructions("USER")
    assert users and users[-1] not in ("root", "0")
    run = " ".join(_instructions("RUN"))
    assert "useradd" in run and users[-1] in run
    assert "--no-install-recommends" in run and "rm -rf /var/lib/apt/lists" in run
    for lib in ("libglib2.0-0", "libgomp1"):
        assert lib in run
    for folder in ("/data/outbox", "/data/spool", "/data/state", "/data/storage", "/data/logs"):
        assert folder in run  # named volumes start owned by the service user
    assert "chown -R quickcam" in run


def test_image_copies_only_what_the_package_needs() -> None:
    sources = [instr.split()[0] for instr in _instructions("COPY")]
    assert set(sources) <= {"pyproject.toml", "common", "detector", "uploader"}
    for folder in ("common", "detector", "uploader"):
        assert folder in sources


def _healthcheck_argv() -> list[str]:
    (instruction,) = _instructions("HEALTHCHECK")
    return json.loads(instruction[instruction.index("CMD") + 3:].strip())


@pytest.mark.parametrize("process", ["detector", "uploader"])
def test_the_health_check_command_works_for_both_services(tmp_path: Path, process: str) -> None:
    argv = _healthcheck_argv()
    assert argv[:3] == ["quickcam", "status", "--healthcheck"]
    config = tmp_path / "quickcam.toml"
    config.write_text('[camera]\nsource = "demo"\n')  # (an empty one is refused: a save cut short)
    argv = [QUICKCAM, *argv[1:]]
    argv[argv.index(CONFIG_IN_CONTAINER)] = str(config)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}

    def health() -> int:
        return subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, timeout=30).returncode

    assert health() == 1  # nothing has started yet
    status = (tmp_path / "outbox" / "detector-status.json" if process == "detector"
              else tmp_path / "state" / "status.json")
    status.parent.mkdir()
    status.write_text(json.dumps({"time": time.time(), "running": True}))
    assert health() == 0
    status.write_text(json.dumps({"time": time.time() - 120, "running": True}))
    assert health() == 1  # hung: the file went stale


@pytest.mark.parametrize("service", ["detector", "uploader"])
def test_each_compose_service_checks_its_own_process_not_the_other_container(tmp_path: Path, service: str) -> None:
    argv = _compose()["services"][service]["healthcheck"]["test"]
    assert argv[:5] == ["CMD", "quickcam", "status", "--healthcheck", service]
    config = tmp_path / "quickcam.toml"
    config.write_text('[camera]\nsource = "demo"\n')  # (an empty one is refused: a save cut short)
    argv = [QUICKCAM, *argv[2:]]
    argv[argv.index(CONFIG_IN_CONTAINER)] = str(config)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    other = "uploader" if service == "detector" else "detector"
    files = {"detector": tmp_path / "outbox" / "detector-status.json", "uploader": tmp_path / "state" / "status.json"}
    files[other].parent.mkdir()
    files[other].write_text(json.dumps({"time": time.time(), "running": True}))
    only_other = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)
    assert only_other.returncode == 1 and f"{service} not on this machine" in only_other.stderr
    files[other].unlink()  # this container sees only its own volume: the other's file is not here
    files[service].parent.mkdir()
    files[service].write_text(json.dumps({"time": time.time(), "running": True}))
    own = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)
    assert own.returncode == 0 and own.stdout.strip() == f"healthy: {service} running", own.stderr


# -- the compose snippets in docs/deploy.md -------------------------------------------


def _doc_snippets() -> list[dict]:
    text = (REPO / "docs" / "deploy.md").read_text()
    return [yaml.load(block, Loader=_ComposeLoader) for block in re.findall(r"```yaml\n(.*?)```", text, re.S)]


def test_the_compose_overrides_in_the_docs_parse_and_declare_the_secrets_they_use() -> None:
    snippets = _doc_snippets()
    assert len(snippets) >= 3  # demo, uploader machine, detector machine
    base = _compose()
    for snippet in snippets:
        declared = set(snippet.get("secrets", {})) | set(base["secrets"])
        for name, service in snippet["services"].items():
            assert name in base["services"]
            assert set(service.get("secrets", [])) <= declared
            env = {**base["services"][name].get("environment", {}), **service.get("environment", {})}
            env = {k: v for k, v in env.items() if not k.startswith("QUICKCAM_LINK__CURVE")}  # files on the host
            load_config(None, env)


def test_the_two_machine_overrides_turn_curve_on_for_both_sides() -> None:
    snippets = _doc_snippets()
    uploader = next(s["services"]["uploader"] for s in snippets if "uploader" in s["services"])
    detectors = [s["services"]["detector"] for s in snippets if "detector" in s["services"]]
    detector = next(d for d in detectors if "QUICKCAM_LINK__CURVE_SECRET_KEY_FILE" in d.get("environment", {}))
    assert uploader["environment"]["QUICKCAM_LINK__ALLOW_PLAIN_TCP"] == "false"
    assert uploader["environment"]["QUICKCAM_LINK__CURVE_SECRET_KEY_FILE"].startswith("/run/secrets/")
    assert "QUICKCAM_LINK__CURVE_ALLOW_DIR" in uploader["environment"]
    assert detector["environment"]["QUICKCAM_LINK__CURVE_SECRET_KEY_FILE"].startswith("/run/secrets/")
    assert "QUICKCAM_LINK__CURVE_SERVER_PUBLIC_KEY_FILE" in detector["environment"]


# -- systemd ------------------------------------------------------------------------


def _unit(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None, comment_prefixes=("#", ";"))
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read(UNITS / f"quickcam-{name}.service")
    return parser


@pytest.mark.parametrize("name", ["detector", "uploader"])
def test_units_restart_on_failure_as_a_system_user_in_their_own_folder(name: str) -> None:
    service = _unit(name)["Service"]
    assert service["Restart"] == "on-failure"
    assert service["User"] == "quickcam"
    assert service["WorkingDirectory"] == "/var/lib/quickcam"
    assert f"quickcam {name} --config /etc/quickcam/quickcam.toml" in service["ExecStart"]
    assert int(service["TimeoutStopSec"]) >= 20
    assert _unit(name)["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.parametrize("name", ["detector", "uploader"])
def test_units_set_no_secret_in_the_environment(name: str) -> None:
    text = (UNITS / f"quickcam-{name}.service").read_text()
    assignments = re.findall(r"^Environment=(.*)$", text, re.M)
    assert not any(re.search(r"KEY|TOKEN|SECRET|PASSWORD", a, re.I) for a in assignments)
    files = re.findall(r"^EnvironmentFile=(.*)$", text, re.M)
    assert all(f.lstrip("-").endswith("tokens.env") for f in files)


def test_the_uploader_starts_first_and_the_detector_holds_a_sleep_lock() -> None:
    detector = _unit("detector")
    assert "quickcam-uploader.service" in detector["Unit"]["After"].split()
    assert "quickcam-uploader.service" in detector["Unit"]["Wants"].split()
    assert "quickcam-detector.service" in _unit("uploader")["Unit"]["Before"].split()
    argv = detector["Service"]["ExecStart"].split()
    assert argv[0] == "/usr/bin/systemd-inhibit" and "--what=sleep:idle" in argv and "--mode=block" in argv
    assert argv.index("--mode=block") < argv.index("/opt/quickcam/.venv/bin/quickcam")
    assert detector["Service"]["SupplementaryGroups"] == "video"
    rules = (UNITS / "50-quickcam-inhibit.rules").read_text()
    assert "org.freedesktop.login1.inhibit-block-sleep" in rules and 'subject.user == "quickcam"' in rules


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """Syntax, keys and paths, with the venv path pointed at this checkout's quickcam."""
    for unit in UNITS.glob("*.service"):
        (tmp_path / unit.name).write_text(unit.read_text().replace("/opt/quickcam/.venv/bin/quickcam", QUICKCAM))
    run = subprocess.run(["systemd-analyze", "verify", *sorted(str(p) for p in tmp_path.iterdir())],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and not run.stderr.strip(), run.stderr


@pytest.mark.parametrize("folder", ["link", "outbox", "spool", "state", "storage", "decrypted"])
def test_a_fresh_clone_holds_no_runtime_folder(folder: str) -> None:
    """A committed file in a runtime folder makes git create that folder with the cloner's umask.

    ``link/`` made that way is mode 755, and the uploader rightly refuses to bind its socket
    in a folder other users can enter, so ``run_all.sh --demo`` failed on a fresh clone;
    the processes create these folders themselves, with the right mode.
    """
    tracked = subprocess.run(["git", "ls-files", "--", folder], cwd=REPO, check=True,
                             capture_output=True, text=True).stdout.split()
    ignored = subprocess.run(["git", "check-ignore", "-q", f"{folder}/x"], cwd=REPO).returncode
    assert tracked == [] and ignored == 0, (tracked, ignored)
