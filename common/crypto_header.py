"""The ``.qsc`` header (format version 1): its numbers, its bytes, and the errors a reader reports.

Split out of ``cryptofile`` because the header is the part of the format a reader
meets first and needs no key: ``quickcam inspect``, the viewer and the spool read
it to name a file's camera, time and key id without decrypting. The payload
(``cryptofile``) and the keys (``crypto_keys``) build on it, never the other way
round. ``docs/encryption.md`` is the normative description; the public names stay
importable from ``quickcam.common.cryptofile``.

The error classes live here because the header is checked first and every later
check (key, segments, length) raises the same classes, so a caller catches one
family whatever failed.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from typing import BinaryIO

FILE_EXTENSION = ".qsc"
# The content type of the uploader's own log, the one file that is not a clip
# (docs/encryption.md, "Files that are not clips").
LOG_CONTENT_TYPE = "text/plain"

# --- Our header ------------------------------------------------------------------------------
# PNG-style magic: the high byte catches 7-bit channels, CR LF and LF catch line-ending
# conversion, 0x1A stops `type` on Windows.
MAGIC = b"\x89QSC\r\n\x1a\n"
VERSION = 1
MODE_SYMMETRIC = 1
MODE_RECIPIENT = 2
KEY_ID_SIZE = 8
CHECK_SIZE = 4
MAX_TEXT_FIELD = 255  # bytes; each text field has a one-byte length prefix
_U64_MAX = 2**64 - 1

# --- Tink AES-GCM-HKDF streaming, parameters fixed by format version 1 -----------------------
SEGMENT_SIZE = 65536  # ciphertext bytes per segment, tag included
TAG_SIZE = 16
SALT_SIZE = 32  # Tink: salt size = derived key size
NONCE_PREFIX_SIZE = 7
STREAM_HEADER_SIZE = 1 + SALT_SIZE + NONCE_PREFIX_SIZE  # 40, stored in its own first byte
PLAIN_SEGMENT_SIZE = SEGMENT_SIZE - TAG_SIZE  # 65520
FIRST_PLAIN_SEGMENT_SIZE = PLAIN_SEGMENT_SIZE - STREAM_HEADER_SIZE  # 65480
MAX_SEGMENTS = 2**32  # the segment index is 4 bytes
KEY_SIZE = 32

# --- Mode 2: the HPKE fields' sizes in the header (the suite is in crypto_keys) -------------
HPKE_ENC_SIZE = 32
WRAPPED_KEY_SIZE = KEY_SIZE + TAG_SIZE  # 48


# --- Errors ------------------------------------------------------------------------------------


class CryptoFileError(Exception):
    """A ``.qsc`` file could not be read; the message is one line naming the cause and the fix.

    Each message starts with the subclass's ``cause`` ("damaged: ..."), so a person reading
    one log line knows which check failed.
    """

    cause = "unreadable"


class WrongKeyError(CryptoFileError):
    """No key in the key ring matches the file's key id."""

    cause = "wrong key"


class DamagedError(CryptoFileError):
    """The file was altered: a header check, a segment tag or the trailing length failed."""

    cause = "damaged"


class TruncatedError(CryptoFileError):
    """The file ends before the length its header declares."""

    cause = "truncated"


class NotQuickcamFileError(CryptoFileError):
    """The file does not start with the ``.qsc`` magic bytes."""

    cause = "not a quickcam file"


class UnknownVersionError(CryptoFileError):
    """The file was written in a format version this code does not implement."""

    cause = "unknown version"


# --- Context and header ----------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What a file is, bound into its header and so authenticated with every segment.

    Binding it means a file cannot be passed off as another clip, camera, time or
    length: change a byte and decryption fails.
    """

    camera_id: str
    message_id: str
    sequence: int
    start_ms: int
    content_type: str
    plaintext_length: int

    def __post_init__(self) -> None:
        for name in ("camera_id", "message_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or len(value.encode("utf-8")) > MAX_TEXT_FIELD:
                raise ValueError(f"Context.{name} must be text of at most {MAX_TEXT_FIELD} bytes")
        ctype = self.content_type
        if not (isinstance(ctype, str) and ctype.isascii() and ctype.isprintable()):
            raise ValueError("Context.content_type must be printable ASCII, e.g. 'video/mp4'")
        if len(ctype) > MAX_TEXT_FIELD:
            raise ValueError(f"Context.content_type must be at most {MAX_TEXT_FIELD} bytes")
        for name in ("sequence", "start_ms", "plaintext_length"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _U64_MAX:
                raise ValueError(f"Context.{name} must be an integer in 0..2**64-1")
        if segment_count(self.plaintext_length) > MAX_SEGMENTS:
            raise ValueError("Context.plaintext_length is beyond the format's 2**32 segments")


@dataclass(frozen=True)
class Header:
    """A parsed header. ``raw`` is its exact bytes: the associated data of the payload."""

    version: int
    mode: int
    key_id: str
    context: Context
    hpke_enc: bytes | None = field(default=None, repr=False)
    wrapped_key: bytes | None = field(default=None, repr=False)
    raw: bytes = field(default=b"", repr=False)

    @property
    def size(self) -> int:
        """Header length in bytes."""
        return len(self.raw)

    @property
    def file_size(self) -> int:
        """The exact size of the whole file this header announces."""
        return self.size + payload_size(self.context.plaintext_length)

    @property
    def mode_name(self) -> str:
        """``symmetric`` or ``recipient``, for people."""
        return {MODE_SYMMETRIC: "symmetric", MODE_RECIPIENT: "recipient"}.get(self.mode, "?")


def segment_count(plaintext_length: int) -> int:
    """Number of payload segments: the first holds 40 bytes fewer; never zero."""
    return max(1, -(-(plaintext_length + STREAM_HEADER_SIZE) // PLAIN_SEGMENT_SIZE))


def payload_size(plaintext_length: int) -> int:
    """Bytes after our header: Tink's stream header, the plaintext, one tag per segment."""
    return STREAM_HEADER_SIZE + plaintext_length + TAG_SIZE * segment_count(plaintext_length)


_FIXED = struct.Struct(">8sBB8sBBBQQQ")  # magic .. plaintext_length: 45 bytes
FIXED_SIZE = _FIXED.size + CHECK_SIZE  # 49: the part every version-1 header starts with


def _encode_header(mode: int, key_id: bytes, context: Context, hpke_fields: bytes = b"") -> bytes:
    """Fixed part (with every length) + its check, then the texts, HPKE fields, header check."""
    camera = context.camera_id.encode("utf-8")
    message = context.message_id.encode("utf-8")
    ctype = context.content_type.encode("ascii")
    fixed = _FIXED.pack(
        MAGIC,
        VERSION,
        mode,
        key_id,
        len(camera),
        len(message),
        len(ctype),
        context.sequence,
        context.start_ms,
        context.plaintext_length,
    )
    body = b"".join((fixed, _check(fixed), camera, message, ctype, hpke_fields))
    return body + _check(body)


def _check(body: bytes) -> bytes:
    return hashlib.sha256(body).digest()[:CHECK_SIZE]


_DAMAGED_HEADER = (
    "damaged: the header's {} check bytes do not match, it was altered in storage or transfer; "
    "fetch the file again from the back end"
)


def read_header(src: BinaryIO) -> Header:
    """Parse and check the header without any key; leaves ``src`` at the payload.

    Lengths are read only from the checked fixed part, so a damaged length is reported
    as damage and never sends the reader past the end of the file.
    """
    first = _read_exact(src, len(MAGIC) + 1)
    if first[: len(MAGIC)] != MAGIC:
        if not first:
            raise TruncatedError("truncated: the file is empty; fetch it again")
        if MAGIC.startswith(first):
            raise TruncatedError(f"truncated: the file is only {len(first)} bytes; fetch it again")
        raise NotQuickcamFileError("not a quickcam file: it does not start with the .qsc magic bytes")
    if len(first) == len(MAGIC):
        raise TruncatedError(f"truncated: the file is only {len(first)} bytes; fetch it again")
    version = first[-1]
    if version != VERSION:
        raise UnknownVersionError(
            f"unknown version: the file uses format version {version}, this quickcam reads "
            f"only version {VERSION}; decrypt it with a newer quickcam"
        )
    reader = _Reader(src, first)
    fixed = reader.take(_FIXED.size - len(first), "fixed part")
    fixed = first + fixed
    if reader.take(CHECK_SIZE, "fixed part check") != _check(fixed):
        raise DamagedError(_DAMAGED_HEADER.format("fixed part"))
    _, _, mode, key_id, n_camera, n_message, n_ctype, sequence, start_ms, length = _FIXED.unpack(fixed)
    if mode not in (MODE_SYMMETRIC, MODE_RECIPIENT):
        raise DamagedError(f"damaged: the header's mode byte is {mode}, must be 1 or 2")
    camera = reader.take(n_camera, "camera id")
    message = reader.take(n_message, "message id")
    ctype = reader.take(n_ctype, "content type")
    hpke_enc = wrapped = None
    if mode == MODE_RECIPIENT:
        hpke_enc = reader.take(HPKE_ENC_SIZE, "HPKE encapsulated key")
        wrapped = reader.take(WRAPPED_KEY_SIZE, "wrapped file key")
    body = bytes(reader.data)
    if reader.take(CHECK_SIZE, "header check") != _check(body):
        raise DamagedError(_DAMAGED_HEADER.format("final"))
    try:
        context = Context(
            camera_id=camera.decode("utf-8"),
            message_id=message.decode("utf-8"),
            sequence=sequence,
            start_ms=start_ms,
            content_type=ctype.decode("ascii"),
            plaintext_length=length,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise DamagedError(f"damaged: the header holds an invalid context field ({exc})") from None
    return Header(
        version=version,
        mode=mode,
        key_id=key_id.hex(),
        context=context,
        hpke_enc=hpke_enc,
        wrapped_key=wrapped,
        raw=bytes(reader.data),
    )


class _Reader:
    """Reads exact byte counts from a stream, keeping them; a short read is a truncation."""

    def __init__(self, src: BinaryIO, already: bytes) -> None:
        self._src = src
        self.data = bytearray(already)

    def take(self, n: int, what: str) -> bytes:
        chunk = _read_exact(self._src, n)
        self.data += chunk
        if len(chunk) < n:
            raise TruncatedError(
                f"truncated: the file ends inside its header (in the {what}) after "
                f"{len(self.data)} bytes; it was cut short in transfer, fetch it again"
            )
        return chunk


def _read_exact(src: BinaryIO, n: int) -> bytes:
    """Read ``n`` bytes, fewer only at end of file (streams may return short reads)."""
    chunks = []
    while n > 0:
        chunk = src.read(n)
        if not chunk:
            break
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)
