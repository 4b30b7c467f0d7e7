"""CurveZMQ key files: ``quickcam curve-keygen NAME`` and loading keys for the link.

Key files use the ZeroMQ certificate format that ``zmq.auth`` reads and
writes (z85 keys in a ZPL text file), so keys made by other ZeroMQ tools work:

- ``NAME.key``: the public key; give it to the other side.
- ``NAME.key_secret``: the public and the secret key, mode 0600; it never
  leaves the machine that made it.

Which file goes where is in docs/protocol.md ("Security").
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import click
import zmq
import zmq.auth
from zmq.utils import z85

from quickcam.common.config import ConfigError, LinkConfig

PUBLIC_SUFFIX = ".key"
SECRET_SUFFIX = ".key_secret"

_BANNER = """#   ****  Generated on {when} by quickcam curve-keygen  ****
#   ZeroMQ CURVE {what} Certificate
#   {advice}

"""


@dataclass(frozen=True)
class CurveKeys:
    """This side's key pair, plus the server's public key on a client."""

    public: bytes
    secret: bytes
    server: bytes | None = None


def write_keypair(base: Path) -> tuple[Path, Path]:
    """Write ``base.key`` and ``base.key_secret`` (0600); refuse to overwrite either."""
    public_path = base.with_name(base.name + PUBLIC_SUFFIX)
    secret_path = base.with_name(base.name + SECRET_SUFFIX)
    for path in (public_path, secret_path):
        if path.exists():
            raise FileExistsError(f"{path} already exists; move it away or choose another name")
    public, secret = zmq.curve_keypair()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    _write_new(secret_path, 0o600, _BANNER.format(
        when=when, what="**Secret**", advice="Keep this file on this machine only (mode 0600).")
        + f'curve\n    public-key = "{public.decode()}"\n    secret-key = "{secret.decode()}"\n')
    _write_new(public_path, 0o644, _BANNER.format(
        when=when, what="Public", advice="Give this file to the other side of the link.")
        + f'curve\n    public-key = "{public.decode()}"\n')
    return public_path, secret_path


def _write_new(path: Path, mode: int, text: str) -> None:
    """Create ``path`` with ``mode`` from the start, so a secret is never briefly readable."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text)
    os.chmod(path, mode)


def load_public_key(path: Path, setting: str = "") -> bytes:
    """The z85 public key in a key file (public or secret); ConfigError names the file (and ``setting``, the
    config key that names it, when there is one)."""
    public, _ = _load(path, setting)
    return public


def load_secret_key(path: Path, setting: str = "link.curve_secret_key_file") -> tuple[bytes, bytes]:
    """(public, secret) z85 keys from a ``.key_secret`` file."""
    public, secret = _load(path, setting)
    if not secret:
        raise ConfigError(f"{path} holds no secret-key; pass the NAME{SECRET_SUFFIX} file, "
                          f"not NAME{PUBLIC_SUFFIX}")
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise ConfigError(f"{path} is readable by other users; chmod 600 {path}")
    return public, secret


def unreadable_key_file(path: Path | str, exc: OSError, setting: str = "") -> str:
    """Why a key file cannot be read, in one line with the fix (the native detector's config.cpp says the same).

    Its error's own words (``Input/output error``), not Python's ``[Errno 5] ...: 'path'``; a file that is not
    there is a wrong path, anything else a disk or its permissions.
    """
    if exc.errno == errno.ENOENT:
        fix = f"check the path set in {setting}" if setting else "check its path"
    else:
        fix = "check the disk and the file's permissions"
    return f"CURVE key file {path} cannot be read: {exc.strerror or exc}; {fix}"


def _load(path: Path, setting: str = "") -> tuple[bytes, bytes | None]:
    try:
        Path(path).read_bytes()  # its OS error, errno and all (load_certificate says "Invalid certificate file")
        public, secret = zmq.auth.load_certificate(path)
    except OSError as exc:
        raise ConfigError(unreadable_key_file(path, exc, setting)) from None
    except ValueError as exc:
        raise ConfigError(f"CURVE key file {path} cannot be read: {exc}") from None
    for what, key in (("public-key", public), ("secret-key", secret)):
        if key is not None and not _is_z85_key(key):
            raise ConfigError(f"CURVE key file {path}: {what} is not a 40-character z85 key")
    return public, secret


def _is_z85_key(key: bytes) -> bool:
    try:
        return len(key) == 40 and len(z85.decode(key)) == 32
    except (ValueError, KeyError, TypeError):
        return False


def client_keys(link: LinkConfig) -> CurveKeys | None:
    """The detector's CURVE keys, or None when CURVE is off."""
    if link.curve_secret_key_file is None:
        return None
    if link.curve_server_public_key_file is None:
        raise ConfigError("link.curve_server_public_key_file must name the uploader's public "
                          "key (NAME.key) when link.curve_secret_key_file is set")
    public, secret = load_secret_key(link.curve_secret_key_file)
    return CurveKeys(public, secret,
                     load_public_key(link.curve_server_public_key_file, "link.curve_server_public_key_file"))


def server_keys(link: LinkConfig) -> CurveKeys | None:
    """The uploader's CURVE keys, or None when CURVE is off."""
    if link.curve_secret_key_file is None:
        return None
    if link.curve_allow_dir is None:
        raise ConfigError("link.curve_allow_dir must name the folder of allowed detector keys "
                          "when link.curve_secret_key_file is set (without it CURVE accepts anyone)")
    public, secret = load_secret_key(link.curve_secret_key_file)
    return CurveKeys(public, secret)


@click.command("curve-keygen")
@click.argument("name", type=click.Path(dir_okay=False, path_type=Path))
def curve_keygen(name: Path) -> None:
    """Write a CURVE key pair: NAME.key (public) and NAME.key_secret (mode 0600).

    On the uploader: set link.curve_secret_key_file to its NAME.key_secret and
    give its NAME.key to every detector. On a detector: set
    link.curve_secret_key_file to the detector's NAME.key_secret and
    link.curve_server_public_key_file to the uploader's NAME.key; copy the
    detector's NAME.key into the uploader's link.curve_allow_dir and list its
    cameras in allow.toml there.
    """
    try:
        public_path, secret_path = write_keypair(name)
    except OSError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"public key: {public_path}")
    click.echo(f"secret key: {secret_path} (mode 0600; keep it on this machine)")
