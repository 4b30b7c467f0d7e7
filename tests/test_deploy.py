"""No container engine runs here, so the compose file and Dockerfile are checked statically."""

from __future__ import annotations

import re

import yaml

from tests.conftest import REPO


def _compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


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
    assert any(port.endswith(":5557") for port in services["uploader"]["ports"])
    assert services["detector"]["environment"]["QUICKCAM_LINK__ENDPOINT"] == "tcp://uploader:5557"


def test_secrets_are_passed_as_compose_secrets_not_baked_into_the_image() -> None:
    compose = _compose()
    assert "tokens.env" in compose["secrets"]
    assert "tokens.env" in compose["services"]["uploader"]["secrets"]
    dockerfile = (REPO / "Dockerfile").read_text()
    assert not re.search(r"^\s*(COPY|ADD)\b.*(tokens\.env|\.key)", dockerfile, re.M)
    assert "/run/secrets/tokens.env" in dockerfile


def test_image_runs_as_a_non_root_user_with_a_health_check() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK\b", dockerfile, re.M)
    assert re.search(r"^FROM python:3\.\d+-slim", dockerfile, re.M)
