"""``quickcam keygen``, ``decrypt`` and ``inspect``: the owner's tools for ``.qsc`` files.

Keys come from the environment or ``tokens.env``, never from argv (argv is visible
to every user in ``ps`` and lands in shell history). Each failing file is one line
naming its cause; the other files still run, and the exit code says whether any
failed. Plaintext is written to a hidden temporary file beside its destination,
fsynced and renamed only once every segment has been authenticated, so a damaged
file never leaves a half-decrypted clip that looks whole. The temporary file is
removed on any error and on SIGINT, SIGTERM and SIGHUP; one left by SIGKILL or a
power cut is removed by the next run into the same folder.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import click

from quickcam.common import cryptofile
from quickcam.common.cryptofile import (
    FILE_EXTENSION,
    LOG_CONTENT_TYPE,
    Context,
    CryptoFileError,
    Header,
    KeyFormatError,
    Keyring,
    RecipientPrivateKey,
    SymmetricKey,
    read_header,
)
from quickcam.common.durable import atomic_write
from quickcam.common.secrets import load_secrets

EXIT_FAILED = 1
EXIT_USAGE = 2

# Extensions that keep a decrypted clip playable; anything else gets .bin.
_EXTENSIONS = {
    "video/mp4": ".mp4",
    "video/x-matroska": ".mkv",
    "video/webm": ".webm",
    "video/quicktime": ".mov",
    "video/x-msvideo": ".avi",
    "video/h264": ".h264",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "application/json": ".json",
}
# A clip id in a file name (docs/encryption.md, "Tools"): 26 characters of the Crockford
# base32 alphabet, not next to another letter or digit. The uploader's ids are 26 hex
# digits (a subset); ULIDs from other writers match too.
_ID_IN_NAME = re.compile(r"(?<![0-9A-Za-z])[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}(?![0-9A-Za-z])")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

_env_file_option = click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("tokens.env"),
    show_default=True,
    help="Secrets file read for keys; the process environment wins over it.",
)


class NameMismatchError(CryptoFileError):
    """The file name names a different clip than the authenticated header."""

    cause = "name mismatch"


# --- keygen --------------------------------------------------------------------------------


def _not_an_option(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """A file name that starts with ``-`` is almost surely an option typed after a value-taking one."""
    if value is not None and str(value).startswith("-"):
        raise click.BadParameter(f"{value} looks like an option, not a file name; give a path "
                                 f"(e.g. ./{value} if you really mean that name)")
    return value


@click.command()
@click.option(
    "--recipient",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    callback=_not_an_option,
    help="Write an X25519 key pair: PATH (private, mode 0600) and PATH.pub (public).",
)
@click.option(
    "--curve",
    "curve_name",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    callback=_not_an_option,
    help="Write a CURVE key pair for the link: NAME.key (public) and NAME.key_secret (mode 0600).",
)
@click.pass_context
def keygen(ctx: click.Context, recipient: Path | None, curve_name: Path | None) -> None:
    """Make a new key: an ENCRYPTION_KEY line on stdout, a recipient pair, or a CURVE pair.

    The ENCRYPTION_KEY line is the secret itself: redirect it into tokens.env
    (quickcam keygen >> tokens.env) rather than into a terminal log. With
    --recipient the uploader's machine (it encrypts) gets only PATH.pub and
    cannot decrypt.
    """
    if recipient is not None and curve_name is not None:
        _fail_usage("choose one of --recipient and --curve")
    if curve_name is not None:
        from quickcam.common.curve import curve_keygen

        ctx.invoke(curve_keygen, name=curve_name)
        return
    if recipient is None:
        key = SymmetricKey.generate()
        click.echo(f"{Keyring.ENV_KEY}={key.to_hex()}")
        click.echo(f"# key id {key.key_id}: keep this line secret (tokens.env, chmod 600)", err=True)
        return
    public_path = recipient.with_name(recipient.name + ".pub")
    for path in (recipient, public_path):
        if path.exists():
            _fail_usage(f"{path} already exists; move it away or choose another path")
    private = RecipientPrivateKey.generate()
    _write_new(recipient, private.to_pem(), 0o600)
    _write_new(public_path, private.public_key().to_pem(), 0o644)
    click.echo(f"private key: {recipient} (mode 0600, key id {private.key_id})")
    click.echo(f"public key:  {public_path}")
    click.echo(
        f"Copy {public_path.name} to the uploader's machine (the uploader encrypts) and set "
        f"ENCRYPTION_RECIPIENT=<its path> in its tokens.env. Keep {recipient.name} off that machine; "
        f"where you decrypt, set {Keyring.ENV_PRIVATE_KEY_FILE}={recipient}"
    )


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode`` from the start, so a secret is never briefly readable."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except OSError as exc:
        _fail_usage(f"cannot create {path}: {exc.strerror}")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)  # the umask may have narrowed a public file too far; never widened


# --- decrypt -------------------------------------------------------------------------------


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the decrypted clips (created if missing).",
)
@click.option("--overwrite", is_flag=True, help="Replace clips that already exist in OUTPUT.")
@_env_file_option
def decrypt(paths: tuple[Path, ...], out_dir: Path, overwrite: bool, env_file: Path) -> None:
    """Decrypt .qsc files, and folders of them (recursively), into OUTPUT.

    Keys: ENCRYPTION_KEY, ENCRYPTION_KEYS_OLD (comma-separated, after rotation) and
    ENCRYPTION_PRIVATE_KEY_FILE (recipient mode), from the environment or --env-file.
    Output names come from the authenticated header: camera, UTC start time, clip id,
    sequence, and an extension for the content type (.mp4, .jpg).
    """
    keyring = _keyring(env_file)
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    _stop_on_signals()
    _remove_stale_parts(out_dir)
    outcomes: Counter[str] = Counter()
    skipped = 0
    files = list(_expand(paths))
    # On a terminal a folder gets a progress bar; problems are listed after it.
    show_bar = len(files) > 1 and sys.stderr.isatty()
    problems: list[str] = []
    with click.progressbar(files, label="decrypting", file=sys.stderr, hidden=not show_bar,
                           item_show_func=lambda p: p.name if p else "") as bar:
        for path in bar:
            try:
                target = _decrypt_one(path, out_dir, keyring, overwrite)
            except CryptoFileError as exc:
                outcomes[exc.cause] += 1
                problems.append(f"{path}: {exc}")
            except FileExistsError as exc:
                skipped += 1
                problems.append(f"{path}: skipped, {exc.filename} exists (--overwrite replaces it)")
            except OSError as exc:
                outcomes["i/o error"] += 1
                problems.append(f"{path}: i/o error: {exc.strerror or exc}")
            else:
                outcomes["ok"] += 1
                if not show_bar:
                    click.echo(f"{path} -> {target}")
            if problems and not show_bar:
                click.echo(problems.pop(), err=True)
    for problem in problems:
        click.echo(problem, err=True)
    ok = outcomes.pop("ok", 0)
    failed = sum(outcomes.values())
    detail = "".join(f", {n} {cause}" for cause, n in sorted(outcomes.items()))
    click.echo(f"decrypted {ok}, skipped {skipped} already present, failed {failed}{detail}", err=True)
    if failed or not (ok or skipped):
        sys.exit(EXIT_FAILED)


def _expand(paths: tuple[Path, ...]) -> Iterator[Path]:
    """The files to read: a folder's ``*.qsc``, less any name (file or folder below it) starting with ``.``:
    a copy in progress or the storage's own (docs/encryption.md, walking a storage folder)."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob(f"*{FILE_EXTENSION}")
                              if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts))
        else:
            yield path  # a missing file fails on its own line, not the whole run


def _decrypt_one(path: Path, out_dir: Path, keyring: Keyring, overwrite: bool) -> Path:
    with path.open("rb") as src:
        header = read_header(src)
        cryptofile.check_file_size(header, os.fstat(src.fileno()).st_size)
        _check_name(path, header)
        target = out_dir / output_name(header.context)
        if target.exists() and not overwrite:
            raise FileExistsError(17, "exists", str(target))
        src.seek(0)
        target.parent.mkdir(exist_ok=True, mode=0o700)
        with atomic_write(target, f"{_PART_PREFIX}{os.getpid()}-{target.name}.part") as out:
            cryptofile.decrypt(src, out, keyring)
    return target


# Plaintext in progress: ``.quickcam-decrypt-<pid>-<name>.part``, the pid telling a
# live run's file from one a killed run left behind.
_PART_PREFIX = ".quickcam-decrypt-"
_PART_NAME = re.compile(re.escape(_PART_PREFIX) + r"(\d+)-.*\.part")


def _stop_on_signals() -> None:
    """SIGTERM and SIGHUP (a timeout, systemd, a closed terminal) unwind like Ctrl-C,
    so the temporary plaintext is removed on the way out."""
    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)


def _remove_stale_parts(out_dir: Path) -> None:
    """Remove the temporary plaintext of runs that were killed (their pid is gone)."""
    parts = [*out_dir.glob(f"{_PART_PREFIX}*.part"), *(out_dir / LOG_FOLDER).glob(f"{_PART_PREFIX}*.part")]
    for part in parts:
        match = _PART_NAME.fullmatch(part.name)
        if match is None or _pid_alive(int(match.group(1))):
            continue
        part.unlink(missing_ok=True)
        click.echo(f"removed {part}: partial plaintext left by an interrupted decrypt", err=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return pid != os.getpid()


def _check_name(path: Path, header: Header) -> None:
    """The name the ledger gave the file must name the clip its header authenticates."""
    message_id = header.context.message_id
    named = _ID_IN_NAME.findall(path.name)
    if named and message_id.upper() not in (n.upper() for n in named):
        raise NameMismatchError(
            f"name mismatch: the file name says clip {named[0]} but its header says "
            f"{message_id}; it was renamed or swapped, check the ledger"
        )


LOG_FOLDER = "logs"


def output_name(context: Context) -> str:
    """``camera_20240101T120000.123Z_clip_0003.mp4``: sortable, unique per segment, safe.

    An uploader log goes to ``logs/host_20240101T120000.123Z_id.log``, apart from the clips.
    """
    start = datetime.fromtimestamp(context.start_ms / 1000, tz=UTC)
    stamp = start.strftime("%Y%m%dT%H%M%S") + f".{context.start_ms % 1000:03d}Z"
    media_type = context.content_type.split(";")[0].strip().lower()
    parts = (context.camera_id or "camera", stamp, context.message_id or "clip")
    safe = "_".join(_UNSAFE.sub("-", part).strip(".-") or "x" for part in parts)
    if media_type == LOG_CONTENT_TYPE:
        return f"{LOG_FOLDER}/{safe}.log"
    return f"{safe}_{context.sequence:04d}{_EXTENSIONS.get(media_type, '.bin')}"


def _keyring(env_file: Path) -> Keyring:
    ctx = click.get_current_context()
    explicit = ctx.get_parameter_source("env_file") != click.core.ParameterSource.DEFAULT
    if explicit and not env_file.is_file():
        _fail_usage(f"--env-file {env_file} does not exist")
    try:
        keyring = Keyring.from_env(load_secrets(env_file))
    except KeyFormatError as exc:
        _fail_usage(str(exc))
    if not len(keyring):
        _fail_usage(
            f"no keys: set {Keyring.ENV_KEY} (and {Keyring.ENV_OLD_KEYS}) or "
            f"{Keyring.ENV_PRIVATE_KEY_FILE} in the environment or {env_file}"
        )
    return keyring


# --- inspect -------------------------------------------------------------------------------


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def inspect(paths: tuple[Path, ...]) -> None:
    """Print the header of .qsc files without decrypting them (no key needed)."""
    failed = 0
    for n, path in enumerate(paths):
        if n:
            click.echo("")
        try:
            with path.open("rb") as src:
                header = read_header(src)
            size = path.stat().st_size
        except CryptoFileError as exc:
            failed += 1
            click.echo(f"{path}: {exc}", err=True)
            continue
        except OSError as exc:
            failed += 1
            click.echo(f"{path}: i/o error: {exc.strerror or exc}", err=True)
            continue
        for label, value in _describe(path, header, size):
            click.echo(f"{label + ':':<16}{value}")
    if failed:
        sys.exit(EXIT_FAILED)


def _describe(path: Path, header: Header, size: int) -> list[tuple[str, str]]:
    ctx = header.context
    start = datetime.fromtimestamp(ctx.start_ms / 1000, tz=UTC)
    mode = {1: "1 (symmetric: ENCRYPTION_KEY)", 2: "2 (recipient: X25519 private key)"}
    expected = header.file_size
    if size == expected:
        state = "complete"
    elif size < expected:
        state = f"TRUNCATED: {expected - size} bytes missing"
    else:
        state = f"DAMAGED: {size - expected} bytes after the declared end"
    return [
        ("file", str(path)),
        ("format", f"version {header.version}"),
        ("mode", mode[header.mode]),
        ("key id", header.key_id),
        ("camera", ctx.camera_id),
        ("clip", ctx.message_id),
        ("sequence", str(ctx.sequence)),
        ("start", f"{start:%Y-%m-%d %H:%M:%S}.{ctx.start_ms % 1000:03d} UTC ({ctx.start_ms} ms)"),
        ("content type", ctx.content_type),
        ("plaintext", f"{ctx.plaintext_length} bytes"),
        ("file size", f"{size} bytes, {state}"),
        ("header", f"{header.size} bytes, check ok (segments not verified: needs the key)"),
    ]


def _fail_usage(message: str) -> NoReturn:
    click.echo(f"quickcam: {message}", err=True)
    sys.exit(EXIT_USAGE)
