"""``quickcam view``: serve the footage of one destination on this machine, decrypted in memory.

By default it listens on 127.0.0.1 on a free port and prints a URL with a fresh
token (as Jupyter does); opening it logs the browser in. ``--listen ADDRESS``
serves other machines too: every page still needs the token, or the password whose
scrypt hash is ``VIEW_PASSWORD_HASH`` in tokens.env (``--hash-password`` makes one).
"""

from __future__ import annotations

import logging
import socket
import stat
import sys
from pathlib import Path
from typing import NoReturn

import click

from quickcam.common.config import Config, load_config
from quickcam.common.cryptofile import KeyFormatError, Keyring, RecipientPrivateKey, SymmetricKey
from quickcam.common.doctor import format_result, red
from quickcam.common.password_input import NoPasswordError, new_password
from quickcam.common.secrets import load_secrets
from quickcam.uploader.backends import BackendError, PermanentError, Reader, create_backend
from quickcam.uploader.viewer.security import PASSWORD_ENV, Gate, PasswordHashError, hash_password
from quickcam.uploader.viewer.store import StoreIndex
from quickcam.uploader.viewer.uplink import UplinkStatus

EXIT_USAGE = 2
LOOPBACK = "127.0.0.1"


@click.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path, readable=False), help="TOML config file.")
@click.option("--from", "destination", default=None,
              help="Destination to read ([storage.NAME]); default: the first of uploader.destinations.")
@click.option("--key-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A key to add to those in tokens.env: 64 hex characters (mode 1) or a PEM private key (mode 2).")
@click.option("--listen", default=None, metavar="ADDRESS",
              help="Serve other machines on ADDRESS (e.g. 0.0.0.0) instead of 127.0.0.1; always behind the login.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="0 picks a free port.")
@click.option("--hash-password", "want_hash", is_flag=True,
              help=f"Ask for a password (or read one line from a pipe) and print the {PASSWORD_ENV} line.")
def view(config_path: Path | None, destination: str | None, key_file: Path | None, listen: str | None,
         port: int, want_hash: bool) -> None:
    """Look at stored events in a browser: timeline, video, snapshots, downloads."""
    logging.basicConfig(level=logging.WARNING, format="quickcam view: %(message)s")
    if want_hash:
        try:
            password = new_password("password")
        except NoPasswordError as exc:
            _fail(str(exc))
        if len(password) < 10:
            _fail("use a password of at least 10 characters")
        click.echo(f"{PASSWORD_ENV}={hash_password(password)}")
        click.echo("# add this line to tokens.env; the password itself is stored nowhere", err=True)
        return
    config = load_config(config_path)
    secrets = load_secrets(config.env_file)
    keyring = load_keyring(secrets, key_file)
    name, reader = open_destination(config, destination, secrets)
    index = StoreIndex(reader, config.uploader.remote_folder)
    try:
        index.cameras()
    except PermanentError as exc:
        _fail(_doctor_line(name, str(exc)))
    except BackendError as exc:
        click.echo(f"quickcam view: storage {name} is not answering now ({exc}); the page will say when it does",
                   err=True)
    try:
        gate = Gate(password_hash=secrets.get(PASSWORD_ENV) or None)
    except PasswordHashError as exc:
        _fail(str(exc))
    serve(index, reader, keyring, gate, name, UplinkStatus(config.uploader.state_dir), listen, port)


def serve(index: StoreIndex, reader: Reader, keyring: Keyring, gate: Gate, name: str,
          uplink: UplinkStatus | None, listen: str | None, port: int) -> None:
    """Bind, print the URL with the token, and serve until interrupted."""
    import uvicorn

    from quickcam.uploader.viewer.state import Viewer
    from quickcam.uploader.viewer.web import build_app

    host = listen or LOOPBACK
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)  # connections wait in the queue, not refused, until the server loop runs
    except OSError as exc:
        _fail(f"cannot listen on {host}:{port}: {exc.strerror}; choose another --port or address")
    bound = sock.getsockname()[1]
    allowed = None if listen else [LOOPBACK, "localhost"]
    app = build_app(Viewer(index, reader, keyring, gate, name, uplink), allowed_hosts=allowed)
    shown = LOOPBACK if host in ("0.0.0.0", "::") else host
    click.echo(f"quickcam view: footage from {name}, decrypted in memory with key id(s) "
               f"{', '.join(keyring.key_ids)}", err=True)
    if listen:
        click.echo("quickcam view: other machines can reach this page; traffic is plain HTTP, so put it behind "
                   "an SSH tunnel or a TLS proxy", err=True)
    click.echo(f"open: http://{shown}:{bound}/?token={gate.token}", err=True)
    sys.stderr.flush()
    config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False)
    uvicorn.Server(config).run(sockets=[sock])


def load_keyring(secrets: dict[str, str], key_file: Path | None) -> Keyring:
    """The keys from tokens.env / the environment, plus ``--key-file``; at least one."""
    try:
        keyring = Keyring.from_env(secrets)
        if key_file is not None:
            keyring.add(_read_key_file(key_file))
    except KeyFormatError as exc:
        _fail(str(exc))
    if not len(keyring):
        _fail(f"no keys: set {Keyring.ENV_KEY} or {Keyring.ENV_PRIVATE_KEY_FILE} in tokens.env, or give --key-file")
    return keyring


def _read_key_file(path: Path) -> SymmetricKey | RecipientPrivateKey:
    try:
        data = path.read_bytes()
        mode = path.stat().st_mode
    except OSError as exc:
        raise KeyFormatError(f"cannot read --key-file {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        click.echo(f"quickcam view: {path} is readable by other users; fix with: chmod 600 {path}", err=True)
    if b"PRIVATE KEY" in data:
        return RecipientPrivateKey.from_pem(data)
    text = data.decode("ascii", "replace").strip()
    if text.startswith(f"{Keyring.ENV_KEY}="):
        text = text.split("=", 1)[1]
    return SymmetricKey.from_hex(text, f"--key-file {path}")


def open_destination(config: Config, destination: str | None, secrets: dict[str, str]) -> tuple[str, Reader]:
    """Build the named destination's back end and check that it can be read back."""
    name = destination or config.uploader.destinations[0]
    if name not in config.storage and name not in config.uploader.destinations:
        known = ", ".join(sorted(set(config.storage) | set(config.uploader.destinations)))
        _fail(f"--from {name}: no such destination; configured: {known}")
    options = dict(config.storage.get(name, {}))
    kind = options.pop("kind", name)
    try:
        backend = create_backend(kind, options, secrets)
    except BackendError as exc:
        _fail(_doctor_line(name, str(exc)))
    if not isinstance(backend, Reader):
        _fail(f"storage {name}: the {kind} back end cannot list or read files yet (docs/viewer.md lists those "
              "that can); decrypt with `quickcam decrypt` after downloading, or view another destination")
    return name, backend


def _doctor_line(name: str, detail: str) -> str:
    fix = f"check [storage.{name}] in the config and its credentials in tokens.env (docs/backends.md)"
    return format_result(red(f"storage {name}", detail, fix), False)


def _fail(message: str) -> NoReturn:
    click.echo(f"quickcam view: {message}", err=True)
    sys.exit(EXIT_USAGE)

