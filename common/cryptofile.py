"""The encrypted clip file format (``.qsc``, format version 1): the one owner of every byte.

The normative description is ``docs/encryption.md``; this module implements it
and nothing else builds or parses these files. The layout is

    header  (ours: a checked fixed part with magic, version, mode, key id, lengths and
             numbers; then the context texts, [HPKE fields], and a check over it all)
    payload (Google Tink's AES-GCM-HKDF streaming AEAD, 64 KiB segments,
             with the header bytes as associated data)

so a changed header, a swapped, reordered, truncated or extended file all fail,
and any file is encrypted or decrypted in constant memory. Mode 1 uses the
user's 32-byte ``ENCRYPTION_KEY`` as the Tink key; mode 2 wraps a random
per-file key to an X25519 public key with HPKE (RFC 9180), so the camera
machine can encrypt without being able to decrypt.

Errors are :class:`CryptoFileError` subclasses whose message is one line for a
person, names the fix, and never contains key material.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import string
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hpke, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand

__all__ = [
    "FILE_EXTENSION",
    "Context",
    "CryptoFileError",
    "DamagedError",
    "Header",
    "KeyFormatError",
    "Keyring",
    "NotQuickcamFileError",
    "RecipientPrivateKey",
    "RecipientPublicKey",
    "SymmetricKey",
    "TruncatedError",
    "UnknownVersionError",
    "WrongKeyError",
    "check_file_size",
    "decrypt",
    "encrypt",
    "read_header",
]

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

# --- Mode 2: HPKE base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM ------------
HPKE_INFO = b"quickcam/v1 file key"
HPKE_ENC_SIZE = 32
WRAPPED_KEY_SIZE = KEY_SIZE + TAG_SIZE  # 48
_HPKE_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
_KEY_ID_LABEL = b"quickcam/v1 key id"

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


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


class KeyFormatError(ValueError):
    """A key (hex string, key file, environment variable) is malformed; never echoes the key."""


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


def _segment_plain_size(index: int, count: int, plaintext_length: int) -> int:
    if index < count - 1:
        return FIRST_PLAIN_SEGMENT_SIZE if index == 0 else PLAIN_SEGMENT_SIZE
    return plaintext_length - (index * PLAIN_SEGMENT_SIZE - STREAM_HEADER_SIZE if index else 0)


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


# --- Keys --------------------------------------------------------------------------------------


def _key_id(mode: int, material: bytes) -> str:
    """A public, short name for a key: SHA-256(label || mode || material), first 8 bytes, hex."""
    digest = hashlib.sha256(_KEY_ID_LABEL + bytes([mode]) + material).digest()
    return digest[:KEY_ID_SIZE].hex()


def _parse_hex32(text: str, what: str, make: str = "quickcam keygen") -> bytes:
    stripped = text.strip()
    if not _HEX64.fullmatch(stripped):
        wrong = next((n for n, c in enumerate(stripped, 1) if c not in string.hexdigits), None)
        if len(stripped) != 2 * KEY_SIZE:
            problem = f"got {len(stripped)} characters"
        else:
            problem = f"non-hex character at position {wrong}"  # the character itself may be secret
        raise KeyFormatError(
            f"{what} must be exactly 64 hex characters (32 bytes); {problem}. Generate one with: {make}"
        )
    return bytes.fromhex(stripped)


class SymmetricKey:
    """A 256-bit ``ENCRYPTION_KEY`` (mode 1). Its repr shows only the key id."""

    __slots__ = ("_raw", "key_id")

    def __init__(self, raw: bytes) -> None:
        if len(raw) != KEY_SIZE:
            raise KeyFormatError(f"a symmetric key is {KEY_SIZE} bytes, not {len(raw)}")
        self._raw = bytes(raw)
        self.key_id = _key_id(MODE_SYMMETRIC, self._raw)

    @classmethod
    def from_hex(cls, hex64: str, what: str = "ENCRYPTION_KEY") -> SymmetricKey:
        """Parse 64 hex characters, the original QuickSecurityCam key format."""
        return cls(_parse_hex32(hex64, what))

    @classmethod
    def generate(cls) -> SymmetricKey:
        """A fresh key from the operating system's CSPRNG."""
        return cls(os.urandom(KEY_SIZE))

    def to_hex(self) -> str:
        """The key as 64 lowercase hex characters: secret, for ``tokens.env`` only."""
        return self._raw.hex()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SymmetricKey) and hmac.compare_digest(self._raw, other._raw)

    def __hash__(self) -> int:
        return hash(self.key_id)

    def __repr__(self) -> str:
        return f"SymmetricKey(key_id={self.key_id!r})"


class RecipientPublicKey:
    """An X25519 public key (mode 2): all the uploader (which encrypts) needs."""

    __slots__ = ("_key", "key_id")

    def __init__(self, key: X25519PublicKey) -> None:
        self._key = key
        self.key_id = _key_id(MODE_RECIPIENT, key.public_bytes_raw())

    @classmethod
    def from_hex(cls, hex64: str) -> RecipientPublicKey:
        """Parse the 32-byte raw public key as 64 hex characters."""
        raw = _parse_hex32(hex64, "a recipient public key", "quickcam keygen --recipient PATH")
        return cls(X25519PublicKey.from_public_bytes(raw))

    @classmethod
    def from_pem(cls, data: bytes) -> RecipientPublicKey:
        """Parse a ``-----BEGIN PUBLIC KEY-----`` block as written by ``quickcam keygen``."""
        try:
            key = serialization.load_pem_public_key(data)
        except ValueError:
            raise KeyFormatError("the recipient public key file is not a PEM public key") from None
        if not isinstance(key, X25519PublicKey):
            raise KeyFormatError("the recipient public key is not an X25519 key")
        return cls(key)

    @classmethod
    def load(cls, path: Path | str) -> RecipientPublicKey:
        """Read a public key file: PEM, or one line of 64 hex characters."""
        data = Path(path).read_bytes()
        if b"-----BEGIN" in data:
            return cls.from_pem(data)
        return cls.from_hex(data.decode("ascii", errors="replace"))

    def to_hex(self) -> str:
        """The raw public key as hex: not secret."""
        return self._key.public_bytes_raw().hex()

    def to_pem(self) -> bytes:
        """SubjectPublicKeyInfo PEM, readable by ``openssl pkey -pubin``."""
        return self._key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RecipientPublicKey) and self.to_hex() == other.to_hex()

    def __hash__(self) -> int:
        return hash(self.key_id)

    def __repr__(self) -> str:
        return f"RecipientPublicKey(key_id={self.key_id!r})"


class RecipientPrivateKey:
    """An X25519 private key (mode 2): kept off the uploader's machine, needed only to decrypt."""

    __slots__ = ("_key", "key_id")

    def __init__(self, key: X25519PrivateKey) -> None:
        self._key = key
        self.key_id = self.public_key().key_id

    @classmethod
    def generate(cls) -> RecipientPrivateKey:
        """A fresh key pair."""
        return cls(X25519PrivateKey.generate())

    @classmethod
    def from_hex(cls, hex64: str) -> RecipientPrivateKey:
        """Parse the raw 32-byte X25519 private key as hex (test vectors use this form)."""
        raw = _parse_hex32(hex64, "a recipient private key", "quickcam keygen --recipient PATH")
        return cls(X25519PrivateKey.from_private_bytes(raw))

    @classmethod
    def from_pem(cls, data: bytes) -> RecipientPrivateKey:
        """Parse an unencrypted PKCS#8 PEM block as written by ``quickcam keygen --recipient``."""
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError):
            raise KeyFormatError(
                "the private key file is not an unencrypted PEM private key "
                "(write one with: quickcam keygen --recipient PATH)"
            ) from None
        if not isinstance(key, X25519PrivateKey):
            raise KeyFormatError("the private key file does not hold an X25519 key")
        return cls(key)

    @classmethod
    def load(cls, path: Path | str) -> RecipientPrivateKey:
        """Read a private key file."""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise KeyFormatError(f"cannot read private key file {path}: {exc.strerror}") from None
        return cls.from_pem(data)

    def public_key(self) -> RecipientPublicKey:
        """The matching public key, to give to the uploader (it encrypts)."""
        return RecipientPublicKey(self._key.public_key())

    def to_pem(self) -> bytes:
        """Unencrypted PKCS#8 PEM: secret, write it with mode 0600."""
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def __repr__(self) -> str:
        return f"RecipientPrivateKey(key_id={self.key_id!r})"


DecryptionKey = SymmetricKey | RecipientPrivateKey


class Keyring:
    """The keys a reader holds, found by (mode, key id) so several coexist after rotation."""

    ENV_KEY = "ENCRYPTION_KEY"
    ENV_OLD_KEYS = "ENCRYPTION_KEYS_OLD"
    ENV_PRIVATE_KEY_FILE = "ENCRYPTION_PRIVATE_KEY_FILE"

    def __init__(self, keys: Iterable[DecryptionKey] = ()) -> None:
        self._keys: dict[tuple[int, str], DecryptionKey] = {}
        for key in keys:
            self.add(key)

    def add(self, key: DecryptionKey) -> None:
        """Add a symmetric key or a recipient private key; adding one twice is harmless."""
        if not isinstance(key, SymmetricKey | RecipientPrivateKey):
            raise TypeError(f"cannot add {type(key).__name__} to a Keyring")
        mode = MODE_SYMMETRIC if isinstance(key, SymmetricKey) else MODE_RECIPIENT
        self._keys[(mode, key.key_id)] = key

    def get(self, mode: int, key_id: str) -> DecryptionKey | None:
        """The key for ``mode`` and ``key_id``, or None."""
        return self._keys.get((mode, key_id))

    @property
    def key_ids(self) -> list[str]:
        """Ids of every key held, for messages: ids are public, keys are not."""
        return [key_id for _, key_id in self._keys]

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"Keyring(key_ids={self.key_ids!r})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Keyring:
        """Build from ``ENCRYPTION_KEY``, ``ENCRYPTION_KEYS_OLD`` (comma-separated hex) and
        ``ENCRYPTION_PRIVATE_KEY_FILE`` (comma-separated paths); absent variables are skipped."""
        ring = cls()
        if environ.get(cls.ENV_KEY, "").strip():
            ring.add(SymmetricKey.from_hex(environ[cls.ENV_KEY], cls.ENV_KEY))
        for n, item in enumerate(_split(environ.get(cls.ENV_OLD_KEYS, "")), start=1):
            ring.add(SymmetricKey.from_hex(item, f"{cls.ENV_OLD_KEYS} item {n}"))
        for path in _split(environ.get(cls.ENV_PRIVATE_KEY_FILE, "")):
            ring.add(RecipientPrivateKey.load(Path(path).expanduser()))
        return ring

    def file_key(self, header: Header) -> bytes:
        """The Tink key for this file; raises WrongKeyError or DamagedError."""
        key = self.get(header.mode, header.key_id)
        if key is None:
            raise WrongKeyError(self._missing_key_message(header))
        if isinstance(key, SymmetricKey):
            return key._raw
        assert header.hpke_enc is not None and header.wrapped_key is not None
        try:
            file_key = _HPKE_SUITE.decrypt(header.hpke_enc + header.wrapped_key, key._key, info=HPKE_INFO)
        except (InvalidTag, ValueError):
            raise DamagedError(
                f"damaged: the wrapped file key does not open with private key {key.key_id}, "
                "the header was altered; fetch the file again"
            ) from None
        if len(file_key) != KEY_SIZE:
            raise DamagedError("damaged: the wrapped file key has the wrong length")
        return file_key

    def _missing_key_message(self, header: Header) -> str:
        held = ", ".join(self.key_ids) or "none"
        if header.mode == MODE_SYMMETRIC:
            fix = f"add that key to {self.ENV_KEY} or {self.ENV_OLD_KEYS}"
        else:
            fix = f"point {self.ENV_PRIVATE_KEY_FILE} at the private key file with that id"
        return (
            f"wrong key: the file was encrypted for {header.mode_name} key id {header.key_id}, "
            f"which is not in your key ring (holds: {held}); {fix}"
        )


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


# --- HPKE seal (RFC 9180 base mode) -----------------------------------------------------------
# Sealing is written out so vectors can fix the ephemeral key (the library draws its own);
# opening uses the library, so every file we seal is checked by an independent implementation.


def _labeled_extract(suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt, b"HPKE-v1" + suite_id + label + ikm, hashlib.sha256).digest()


def _labeled_expand(suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    labeled_info = struct.pack(">H", length) + b"HPKE-v1" + suite_id + label + info
    return HKDFExpand(hashes.SHA256(), length, labeled_info).derive(prk)


def _hpke_seal(recipient: X25519PublicKey, plaintext: bytes, ephemeral: X25519PrivateKey) -> tuple[bytes, bytes]:
    """HPKE SealBase(pkR, info=HPKE_INFO, aad=b"", pt); returns (enc, ciphertext)."""
    kem_suite = b"KEM" + struct.pack(">H", 0x0020)
    enc = ephemeral.public_key().public_bytes_raw()
    dh = ephemeral.exchange(recipient)  # raises on an all-zero (low-order) result
    eae_prk = _labeled_extract(kem_suite, b"", b"eae_prk", dh)
    kem_context = enc + recipient.public_bytes_raw()
    shared = _labeled_expand(kem_suite, eae_prk, b"shared_secret", kem_context, 32)
    suite = b"HPKE" + struct.pack(">HHH", 0x0020, 0x0001, 0x0002)
    psk_id_hash = _labeled_extract(suite, b"", b"psk_id_hash", b"")
    info_hash = _labeled_extract(suite, b"", b"info_hash", HPKE_INFO)
    schedule = b"\x00" + psk_id_hash + info_hash
    secret = _labeled_extract(suite, shared, b"secret", b"")
    key = _labeled_expand(suite, secret, b"key", schedule, 32)
    nonce = _labeled_expand(suite, secret, b"base_nonce", schedule, 12)
    return enc, AESGCM(key).encrypt(nonce, plaintext, b"")


# --- Payload: Tink AES-GCM-HKDF streaming -----------------------------------------------------


def _segment_cipher(ikm: bytes, salt: bytes, associated_data: bytes) -> AESGCM:
    key = HKDF(hashes.SHA256(), KEY_SIZE, salt=salt, info=associated_data).derive(ikm)
    return AESGCM(key)


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", index, last)


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


def _fill(src: BinaryIO, view: memoryview) -> int:
    """Fill ``view`` from ``src``; returns the count, short only at end of file."""
    readinto = getattr(src, "readinto", None)
    got = 0
    while got < len(view):
        if readinto is not None:
            n = readinto(view[got:])
        else:
            chunk = src.read(len(view) - got)
            n = len(chunk)
            view[got : got + n] = chunk
        if not n:
            break
        got += n
    return got


def encrypt(
    plaintext: bytes | bytearray | memoryview | BinaryIO,
    out: BinaryIO,
    key: SymmetricKey | RecipientPublicKey,
    context: Context,
) -> int:
    """Write a whole ``.qsc`` file to ``out``; returns the bytes written.

    A stream is read in 64 KiB pieces (constant memory). ``context.plaintext_length``
    must equal the plaintext's length: the header is written before the data is read,
    so a mismatch raises ValueError after a partial file has been written.
    """
    return _encrypt(plaintext, out, key, context)


def _encrypt(
    plaintext: bytes | bytearray | memoryview | BinaryIO,
    out: BinaryIO,
    key: SymmetricKey | RecipientPublicKey,
    context: Context,
    *,
    salt: bytes | None = None,
    nonce_prefix: bytes | None = None,
    file_key: bytes | None = None,
    ephemeral: X25519PrivateKey | None = None,
) -> int:
    """``encrypt`` with injectable randomness: for generating test vectors only."""
    salt = os.urandom(SALT_SIZE) if salt is None else salt
    nonce_prefix = os.urandom(NONCE_PREFIX_SIZE) if nonce_prefix is None else nonce_prefix
    if len(salt) != SALT_SIZE or len(nonce_prefix) != NONCE_PREFIX_SIZE:
        raise ValueError("salt must be 32 bytes and nonce_prefix 7 bytes")
    key_id = bytes.fromhex(key.key_id)
    if isinstance(key, SymmetricKey):
        ikm = key._raw
        header = _encode_header(MODE_SYMMETRIC, key_id, context)
    elif isinstance(key, RecipientPublicKey):
        ikm = os.urandom(KEY_SIZE) if file_key is None else file_key
        eph = X25519PrivateKey.generate() if ephemeral is None else ephemeral
        enc, wrapped = _hpke_seal(key._key, ikm, eph)
        header = _encode_header(MODE_RECIPIENT, key_id, context, enc + wrapped)
    else:
        raise TypeError("key must be a SymmetricKey or a RecipientPublicKey")

    aead = _segment_cipher(ikm, salt, header)
    written = out.write(header) or 0
    written += out.write(bytes([STREAM_HEADER_SIZE]) + salt + nonce_prefix) or 0

    if isinstance(plaintext, bytes | bytearray | memoryview):
        data = memoryview(plaintext).cast("B")
        if len(data) != context.plaintext_length:
            raise ValueError(
                f"plaintext is {len(data)} bytes but context.plaintext_length says {context.plaintext_length}"
            )
        src: BinaryIO | None = None
    else:
        data, src = memoryview(bytearray(PLAIN_SEGMENT_SIZE)), plaintext

    total = context.plaintext_length
    count = segment_count(total)
    sealed = bytearray(SEGMENT_SIZE)
    offset = 0
    for index in range(count):
        size = _segment_plain_size(index, count, total)
        if src is None:
            chunk = data[offset : offset + size]
        else:
            chunk = data[:size]
            got = _fill(src, chunk)
            if got != size:
                raise ValueError(
                    f"plaintext stream ended after {offset + got} bytes but context.plaintext_length says {total}"
                )
        offset += size
        last = index == count - 1
        box = memoryview(sealed)[: size + TAG_SIZE]
        aead.encrypt_into(_nonce(nonce_prefix, index, last), chunk, None, box)
        written += out.write(box) or 0
    if src is not None and src.read(1):
        raise ValueError(f"plaintext stream is longer than context.plaintext_length ({total})")
    return written


def decrypt(src: BinaryIO, out: BinaryIO, keyring: Keyring) -> Header:
    """Stream the plaintext of a ``.qsc`` file to ``out``; returns its header.

    Every segment is authenticated before it is written, but a later segment can still
    fail after earlier ones were written: write to a temporary file and keep it only if
    this returns. Raises a :class:`CryptoFileError` subclass naming the cause.
    """
    header = read_header(src)
    ikm = keyring.file_key(header)
    total = header.context.plaintext_length
    count = segment_count(total)

    stream_header = _read_exact(src, STREAM_HEADER_SIZE)
    if len(stream_header) < STREAM_HEADER_SIZE:
        raise _truncated(header, header.size + len(stream_header))
    if stream_header[0] != STREAM_HEADER_SIZE:
        raise DamagedError(
            f"damaged: the payload header's length byte is {stream_header[0]}, must be "
            f"{STREAM_HEADER_SIZE}; fetch the file again"
        )
    salt = stream_header[1 : 1 + SALT_SIZE]
    prefix = stream_header[1 + SALT_SIZE :]
    aead = _segment_cipher(ikm, salt, header.raw)

    sealed = memoryview(bytearray(SEGMENT_SIZE))
    opened = memoryview(bytearray(PLAIN_SEGMENT_SIZE))
    position = header.size + STREAM_HEADER_SIZE
    for index in range(count):
        size = _segment_plain_size(index, count, total)
        box = sealed[: size + TAG_SIZE]
        got = _fill(src, box)
        if got < len(box):
            raise _truncated(header, position + got)
        position += got
        try:
            aead.decrypt_into(_nonce(prefix, index, index == count - 1), box, None, opened[:size])
        except InvalidTag:
            raise DamagedError(
                f"damaged: segment {index} (of {count}, numbered from 0) failed authentication, the file was "
                "altered, reordered or swapped; fetch it again from the back end"
            ) from None
        out.write(opened[:size])
    extra = src.read(1)
    if extra:
        raise _extended(header)
    return header


def check_file_size(header: Header, size: int) -> None:
    """Fail early, before any decryption, if a file's size is not the one its header declares."""
    if size < header.file_size:
        raise _truncated(header, size)
    if size > header.file_size:
        raise _extended(header)


def _extended(header: Header) -> DamagedError:
    return DamagedError(
        f"damaged: the file has data after its declared end ({header.file_size} bytes), "
        "it was extended or joined to another; fetch it again"
    )


def _truncated(header: Header, have: int) -> TruncatedError:
    return TruncatedError(
        f"truncated: {have} of {header.file_size} bytes present, it was cut short in "
        "transfer; fetch it again (or re-run the upload)"
    )
