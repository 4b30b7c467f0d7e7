"""common/endpoint.py: the socket folder rules both sides apply before the link opens."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from quickcam.common.config import ConfigError, LinkConfig
from quickcam.common.endpoint import check_plain_tcp, plain_tcp_warning, private_folder

posix_only = pytest.mark.skipif(os.name != "posix", reason="the folder checks are POSIX-only")


@posix_only
def test_a_missing_socket_folder_is_created_private(tmp_path: Path) -> None:
    folder = private_folder(f"ipc://{tmp_path}/a/link/uploader.sock")
    assert folder == tmp_path / "a" / "link" and folder.stat().st_mode & 0o777 == 0o700


@posix_only
def test_a_socket_folder_open_to_others_is_refused_with_the_chmod_fix(tmp_path: Path) -> None:
    (tmp_path / "link").mkdir(mode=0o755)
    (tmp_path / "link").chmod(0o755)
    with pytest.raises(ConfigError, match=f"open to other users \\(mode 755\\).*chmod 700 {tmp_path}/link"):
        private_folder(f"ipc://{tmp_path}/link/uploader.sock")


@posix_only
def test_a_socket_folder_in_a_folder_anyone_may_write_is_refused_unless_sticky(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(ConfigError, match="every user may write to"):
        private_folder(f"ipc://{shared}/link/uploader.sock")
    shared.chmod(0o1777)  # like /tmp: others cannot rename what is ours
    assert private_folder(f"ipc://{shared}/link/uploader.sock") == shared / "link"


def test_tcp_without_curve_needs_the_explicit_opt_in_which_is_then_a_warning() -> None:
    with pytest.raises(ConfigError, match="remove link.endpoint to use the private socket"):
        check_plain_tcp(LinkConfig(endpoint="tcp://127.0.0.1:5557"), curve=False)
    check_plain_tcp(LinkConfig(endpoint="tcp://127.0.0.1:5557"), curve=True)
    opted_in = LinkConfig(endpoint="tcp://0.0.0.0:5557", allow_plain_tcp=True)
    check_plain_tcp(opted_in, curve=False)
    assert "WITHOUT CURVE" in plain_tcp_warning(opted_in, curve=False) and "any host" in plain_tcp_warning(
        opted_in, curve=False)
    assert plain_tcp_warning(LinkConfig(), curve=False) == ""
