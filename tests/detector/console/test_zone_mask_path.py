"""A painted zone mask is named relative to the config file, so the folder can move."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from quickcam.common.config import load_config
from quickcam.detector.console.zone_file import mask_path_for, parse_zones, save_zones
from quickcam.detector.zones import load_mask_image


def test_a_saved_mask_is_found_after_the_config_folder_moves(tmp_path: Path) -> None:
    before, after = tmp_path / "before", tmp_path / "after"
    before.mkdir()
    (before / "quickcam.toml").write_text('[camera]\nsource = "demo"\n')
    painted = np.full((48, 64), 255, np.uint8)
    painted[:, :16] = 0  # the left quarter ignored
    zones = parse_zones({}, 64, 48, mask_path_for(before / "quickcam.toml", "cam0"), painted)
    save_zones(before / "quickcam.toml", "cam0", zones, painted)
    assert 'mask = "cam0-zone-mask.png"' in (before / "quickcam.toml").read_text()
    shutil.move(before, after)
    mask = load_config(after / "quickcam.toml").camera.zones.mask
    assert mask == after / "cam0-zone-mask.png"
    assert (load_mask_image(mask) == painted).all()


def test_an_absolute_mask_path_is_kept_as_written(tmp_path: Path) -> None:
    elsewhere = tmp_path / "masks" / "door.png"
    (tmp_path / "quickcam.toml").write_text(f'[camera]\n[camera.zones]\nmask = "{elsewhere}"\n')
    assert load_config(tmp_path / "quickcam.toml").camera.zones.mask == elsewhere
