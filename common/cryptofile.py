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

The format is three modules along the way a file is read: ``crypto_header``
(the header's bytes and the errors), ``crypto_keys`` (keys, key ring, HPKE key
wrapping) and this one (the streaming payload: ``encrypt``, ``decrypt``). Every
public name of the three is importable from here, the one name callers use.

Errors are :class:`CryptoFileError` subclasses whose message is one line for a
person, names the fix, and never contains key material.
"""

from __future__ import annotations

import os
import struct
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# Some names are not used here but re-exported (hence the noqa): the format's numbers and helpers that
# callers, tests, vectors and benchmarks read through this module (cf.MAGIC, cf.HPKE_INFO, ...).
from quickcam.common.crypto_header import (  # noqa: F401
    CHECK_SIZE,
    FILE_EXTENSION,
    FIRST_PLAIN_SEGMENT_SIZE,
    FIXED_SIZE,
    HPKE_ENC_SIZE,
    KEY_ID_SIZE,
    KEY_SIZE,
    LOG_CONTENT_TYPE,
    MAGIC,
    MAX_SEGMENTS,
    MAX_TEXT_FIELD,
    MODE_RECIPIENT,
    MODE_SYMMETRIC,
    NONCE_PREFIX_SIZE,
    PLAIN_SEGMENT_SIZE,
    SALT_SIZE,
    SEGMENT_SIZE,
    STREAM_HEADER_SIZE,
    TAG_SIZE,
    VERSION,
    WRAPPED_KEY_SIZE,
    Context,
    CryptoFileError,
    DamagedError,
    Header,
    NotQuickcamFileError,
    TruncatedError,
    UnknownVersionError,
    WrongKeyError,
    _encode_header,
    _read_exact,
    payload_size,
    read_header,
    segment_count,
)
from quickcam.common.crypto_keys import (  # noqa: F401
    HPKE_INFO,
    DecryptionKey,
    KeyFormatError,
    Keyring,
    RecipientPrivateKey,
    RecipientPublicKey,
    SymmetricKey,
    _hpke_seal,
)

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



# --- Payload: Tink AES-GCM-HKDF streaming -----------------------------------------------------


def _segment_plain_size(index: int, count: int, plaintext_length: int) -> int:
    if index < count - 1:
        return FIRST_PLAIN_SEGMENT_SIZE if index == 0 else PLAIN_SEGMENT_SIZE
    return plaintext_length - (index * PLAIN_SEGMENT_SIZE - STREAM_HEADER_SIZE if index else 0)


def _segment_cipher(ikm: bytes, salt: bytes, associated_data: bytes) -> AESGCM:
    key = HKDF(hashes.SHA256(), KEY_SIZE, salt=salt, info=associated_data).derive(ikm)
    return AESGCM(key)


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", index, last)


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
