"""Zone editor back end: what the page sends is checked, and saving keeps the config file's comments."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from quickcam.common.config import ZonesConfig, load_config
from quickcam.detector.console.zone_file import ZoneInputError, ZoneSaveError, parse_zones, render_zones, save_zones

COMMENTED = """\
# My cameras. These comments must survive the zone editor.
[[cameras]]
id = "door"   # the front door
source = "demo"
[cameras.zones]
exclude = []  # the road, drawn in the console

[[cameras]]
id = "desk"
source = "demo"
[cameras.motion]
pixel_threshold = 20  # tuned by hand
"""
SQUARE = [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5], [0.1, 0.5]]


@pytest.mark.parametrize(("data", "message"), [
    ({"exclude": [[[0.1, 0.1], [0.2, 0.2]]]}, r"exclude polygon 1 needs at least 3 points \(got 2\)"),
    ({"include": [SQUARE, [[0.1, 0.1], [1.2, 0.5], [0.1, 0.9]]]},
     r"include polygon 2, point 2 \(1.200, 0.500\) is outside the frame"),
    ({"exclude": [[[0, 0], [0.5, 0.5], [1, 1]]]}, "encloses no area"),
    ({"exclude": [[["a", 0], [0.5, 0.5], [1, 1]]]}, r"point 1 must be \[x, y\] numbers"),
    ({"exclude": "everything"}, "must be a list of polygons"),
    ({"exclude": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}, "leave nothing of the picture to watch"),
    ({"polygons": []}, "unknown field"),
    ([], "JSON object"),
])
def test_malformed_polygons_are_refused_with_a_sentence_naming_the_culprit(data: object, message: str) -> None:
    with pytest.raises(ZoneInputError, match=message):
        parse_zones(data, 640, 480, None, None)


def test_saving_zones_changes_only_that_camera_and_keeps_every_comment(tmp_path: Path) -> None:
    path = tmp_path / "quickcam.toml"
    path.write_text(COMMENTED)
    path.chmod(0o640)
    zones = parse_zones({"exclude": [SQUARE]}, 640, 480, None, None)
    save_zones(path, "door", zones, None)
    text = path.read_text()
    for comment in ("# My cameras.", "# the front door", "# the road, drawn in the console", "# tuned by hand"):
        assert comment in text
    assert 'exclude = [[[0.1, 0.1], [0.5, 0.1], [0.5, 0.5], [0.1, 0.5]]]  # the road' in text
    assert text.replace('[[[0.1, 0.1], [0.5, 0.1], [0.5, 0.5], [0.1, 0.5]]]', "[]") == COMMENTED
    assert path.stat().st_mode & 0o777 == 0o640
    config = load_config(path, {})
    assert config.cameras[0].zones.exclude == [[tuple(p) for p in SQUARE]]
    assert config.cameras[1].zones.exclude == []


def test_a_painted_mask_is_saved_beside_the_config_and_named_in_it(tmp_path: Path) -> None:
    path = tmp_path / "quickcam.toml"
    path.write_text(COMMENTED)
    mask = np.full((480, 640), 255, np.uint8)
    mask[:, :100] = 0
    mask_path = tmp_path / "desk-zone-mask.png"
    zones = parse_zones({"include": [SQUARE]}, 640, 480, mask_path, mask)
    save_zones(path, "desk", zones, mask)
    config = load_config(path, {})
    assert config.cameras[1].zones.mask == mask_path and mask_path.stat().st_mode & 0o777 == 0o600
    assert "[cameras.zones]" in render_zones(COMMENTED, "desk", zones)


def test_an_unknown_camera_and_an_unwritable_config_file_each_get_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "quickcam.toml"
    path.write_text(COMMENTED)
    zones = parse_zones({"exclude": [SQUARE]}, 640, 480, None, None)
    with pytest.raises(ZoneInputError, match="camera garage is not among the"):
        save_zones(path, "garage", zones, None)
    (tmp_path / "quickcam.toml.part").mkdir()  # the temporary file cannot be created (even by root)
    with pytest.raises(ZoneSaveError, match="cannot write the config file .*zones not saved and not applied"):
        save_zones(path, "door", zones, None)
    assert path.read_text() == COMMENTED


def test_a_new_key_goes_right_after_the_tables_last_key_not_after_the_comments_below_it() -> None:
    from tests.conftest import REPO

    text = (REPO / "quickcam.example.toml").read_text()
    zones = ZonesConfig(mask=Path("/etc/quickcam/cam0-zone-mask.png"))
    lines = render_zones(text, "cam0", zones).splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("exclude = []"))
    assert lines[at + 1] == 'mask = "/etc/quickcam/cam0-zone-mask.png"'
    assert [line for line in lines if line != lines[at + 1]] == text.splitlines()
