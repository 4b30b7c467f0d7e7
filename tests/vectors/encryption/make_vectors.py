"""Generate (or, with --check, verify) the .qsc known-answer vectors beside this script.

Every random input of the writer (salt, nonce prefix, mode-2 file key and ephemeral
X25519 key) is fixed here, so the files are byte-exact and another implementation can
reproduce them from ``vectors.json`` alone. Run from the repository root:

    .venv/bin/python tests/vectors/encryption/make_vectors.py          # rewrite
    .venv/bin/python tests/vectors/encryption/make_vectors.py --check  # verify, exit 1 on drift

Change the vectors only together with the format version: they are the spec's examples.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from quickcam.common import crypto_header
from quickcam.common import cryptofile as cf

HERE = Path(__file__).resolve().parent
KEY_A = bytes(range(0x00, 0x20))  # the mode-1 ENCRYPTION_KEY of every valid vector
KEY_B = bytes(range(0x20, 0x40))  # a different key: "wrong key" vectors
RECIPIENT = bytes(range(0x40, 0x60))  # the mode-2 recipient's X25519 private key
PLAINTEXT_RULE = "byte i of the plaintext is i % 251"


def plaintext(length: int) -> bytes:
    """Deterministic, non-repeating within a segment, trivial to regenerate anywhere."""
    return bytes(i % 251 for i in range(length))


def fixed(label: str, size: int) -> bytes:
    """A per-vector 'random' value: the first ``size`` bytes of SHA-256(label)."""
    return hashlib.sha256(label.encode()).digest()[:size]


VALID = [
    # name, mode, plaintext length, content type, sequence
    ("mode1-empty", 1, 0, "video/mp4", 0),
    ("mode1-small", 1, 100, "image/jpeg", 0),
    ("mode1-one-full-segment", 1, cf.FIRST_PLAIN_SEGMENT_SIZE, "video/mp4", 1),
    (
        "mode1-three-segments",
        1,
        cf.FIRST_PLAIN_SEGMENT_SIZE + cf.PLAIN_SEGMENT_SIZE + 1,
        "video/mp4",
        2,
    ),
    ("mode2-small", 2, 100, "image/jpeg", 0),
    ("mode2-two-segments", 2, cf.FIRST_PLAIN_SEGMENT_SIZE + 1, "video/mp4", 7),
]


def build_valid(name: str, mode: int, length: int, ctype: str, sequence: int) -> dict:
    context = cf.Context(
        camera_id="cam0",
        message_id="01J9ZQ5W3V8K6T2R4M7N1P0XYZ",
        sequence=sequence,
        start_ms=1_717_171_717_171,
        content_type=ctype,
        plaintext_length=length,
    )
    salt = fixed(f"{name} salt", cf.SALT_SIZE)
    prefix = fixed(f"{name} nonce prefix", cf.NONCE_PREFIX_SIZE)
    entry: dict = {"name": name, "file": f"{name}.qsc", "mode": mode}
    if mode == 1:
        key: cf.SymmetricKey | cf.RecipientPublicKey = cf.SymmetricKey(KEY_A)
        extra: dict = {}
        entry["key"] = KEY_A.hex()
    else:
        recipient = cf.RecipientPrivateKey.from_hex(RECIPIENT.hex())
        key = recipient.public_key()
        file_key = fixed(f"{name} file key", cf.KEY_SIZE)
        ephemeral = fixed(f"{name} ephemeral", 32)
        extra = {
            "file_key": file_key,
            "ephemeral": X25519PrivateKey.from_private_bytes(ephemeral),
        }
        entry["recipient_private_key"] = RECIPIENT.hex()
        entry["recipient_public_key"] = key.to_hex()
        entry["file_key"] = file_key.hex()
        entry["ephemeral_private_key"] = ephemeral.hex()
    out = io.BytesIO()
    cf._encrypt(plaintext(length), out, key, context, salt=salt, nonce_prefix=prefix, **extra)
    data = out.getvalue()
    header = cf.read_header(io.BytesIO(data))
    entry.update(
        key_id=key.key_id,
        salt=salt.hex(),
        nonce_prefix=prefix.hex(),
        context={
            "camera_id": context.camera_id,
            "message_id": context.message_id,
            "sequence": context.sequence,
            "start_ms": context.start_ms,
            "content_type": context.content_type,
            "plaintext_length": context.plaintext_length,
        },
        plaintext_sha256=hashlib.sha256(plaintext(length)).hexdigest(),
        header_hex=header.raw.hex(),
        file_size=len(data),
        file_sha256=hashlib.sha256(data).hexdigest(),
    )
    entry["_bytes"] = data
    return entry


def _flip(offset: int, bit: int = 0) -> Callable[[bytes], bytes]:
    def apply(data: bytes) -> bytes:
        changed = bytearray(data)
        changed[offset] ^= 1 << bit
        return bytes(changed)

    return apply


def _forge(change: Callable[[bytearray], None]) -> Callable[[bytes], bytes]:
    """Change header bytes and recompute both unkeyed checks, as an attacker could."""

    def apply(data: bytes) -> bytes:
        header = cf.read_header(io.BytesIO(data))
        body = bytearray(header.raw[: -cf.CHECK_SIZE])
        change(body)
        fixed_end = cf.FIXED_SIZE - cf.CHECK_SIZE
        body[fixed_end : cf.FIXED_SIZE] = crypto_header._check(bytes(body[:fixed_end]))
        return bytes(body) + crypto_header._check(bytes(body)) + data[header.size :]

    return apply


def _set_mode_5(body: bytearray) -> None:
    body[9] = 5


def _rename_camera(body: bytearray) -> None:
    at = body.index(b"cam0")
    body[at : at + 4] = b"cam1"


def _flip_wrapped_key(body: bytearray) -> None:
    body[-1] ^= 1  # the last byte of the wrapped file key (its HPKE tag)


def build_invalid(valid: dict[str, dict]) -> list[dict]:
    small = valid["mode1-small"]["_bytes"]
    small2 = valid["mode2-small"]["_bytes"]
    header_size = len(bytes.fromhex(valid["mode1-small"]["header_hex"]))
    header2_size = len(bytes.fromhex(valid["mode2-small"]["header_hex"]))
    r = "recipient"
    # fmt: off
    cases = [
        # name, file it is made from, change, key ring, error class, why
        ("not-quickcam", small, _flip(0), [KEY_A], "NotQuickcamFileError",
         "magic byte 0 flipped"),
        ("unknown-version", small, _flip(8, 1), [KEY_A], "UnknownVersionError",
         "version 1 -> 3"),
        ("bad-mode", small, _forge(_set_mode_5), [KEY_A], "DamagedError",
         "mode byte 1 -> 5, checks recomputed"),
        ("fixed-part-bit-flip", small, _flip(18, 7), [KEY_A], "DamagedError",
         "camera id length 4 -> 132: fixed part check fails"),
        ("header-bit-flip", small, _flip(cf.FIXED_SIZE), [KEY_A], "DamagedError",
         "camera id byte flipped: final header check fails"),
        ("header-forged", small, _forge(_rename_camera), [KEY_A], "DamagedError",
         "camera id changed and checks recomputed: segment 0 fails authentication"),
        ("salt-flip", small, _flip(header_size + 1), [KEY_A], "DamagedError",
         "payload salt flipped: segment 0 fails authentication"),
        ("tag-flip", small, _flip(len(small) - 1, 7), [KEY_A], "DamagedError",
         "last tag byte flipped"),
        ("truncated", small, lambda d: d[:-1], [KEY_A], "TruncatedError",
         "last byte removed"),
        ("truncated-in-header", small, lambda d: d[:30], [KEY_A], "TruncatedError",
         "cut inside the fixed part of the header"),
        ("extended", small, lambda d: d + b"\x00", [KEY_A], "DamagedError",
         "one byte appended"),
        ("wrong-key", small, lambda d: d, [KEY_B], "WrongKeyError",
         "key ring holds only KEY_B"),
        ("mode2-wrong-key", small2, lambda d: d, [KEY_A], "WrongKeyError",
         "key ring holds no recipient key"),
        ("mode2-wrapped-key-flip", small2, _flip(header2_size - cf.CHECK_SIZE - 1), [r],
         "DamagedError", "last wrapped-key byte flipped: final header check fails"),
        ("mode2-wrapped-key-forged", small2, _forge(_flip_wrapped_key), [r], "DamagedError",
         "wrapped key changed and checks recomputed: HPKE open fails"),
        ("mode2-truncated", small2, lambda d: d[:-16], [r], "TruncatedError",
         "last tag removed"),
        ("truncated-wrong-key", small, lambda d: d[:-1], [KEY_B], "WrongKeyError",
         "last byte removed and the key ring holds only KEY_B: the key lookup (step 5) fails "
         "first, unless the reader checks the size early"),
    ]
    # fmt: on
    out = []
    for name, base, mutate, keys, error, why in cases:
        data = mutate(base)
        entry = {
            "name": name,
            "file": f"invalid-{name}.qsc",
            "keyring": [RECIPIENT.hex() if k == "recipient" else k.hex() for k in keys],
            "keyring_kinds": ["recipient" if k == "recipient" else "symmetric" for k in keys],
            "error": error,
            "why": why,
        }
        size_error = _size_check_error(data)
        if size_error is not None:
            entry["size_check_error"] = size_error  # what a reader with the optional early size check reports
        out.append({**entry, "_bytes": data})
    return out


def _size_check_error(data: bytes) -> str | None:
    """The error of the optional early size check (after step 4, before step 5), or None when
    the size is right or the header already fails (then every reader reports the header error)."""
    try:
        header = cf.read_header(io.BytesIO(data))
    except cf.CryptoFileError:
        return None
    try:
        cf.check_file_size(header, len(data))
    except cf.CryptoFileError as exc:
        return type(exc).__name__
    return None


def build() -> dict:
    valid = {v["name"]: v for v in (build_valid(*spec) for spec in VALID)}
    return {
        "format": "quickcam .qsc format version 1 (docs/encryption.md)",
        "plaintext": PLAINTEXT_RULE,
        "note": "salts, nonce prefixes, file keys and ephemeral keys are fixed for vectors "
        "only; a real writer draws them fresh from the OS CSPRNG for every file",
        "valid": list(valid.values()),
        "invalid": build_invalid(valid),
    }


def _public(vectors: dict) -> dict:
    strip = [{k: v for k, v in e.items() if k != "_bytes"} for e in vectors["valid"]]
    strip_bad = [{k: v for k, v in e.items() if k != "_bytes"} for e in vectors["invalid"]]
    return {**vectors, "valid": strip, "invalid": strip_bad}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify instead of writing")
    args = parser.parse_args()
    vectors = build()
    files = {e["file"]: e["_bytes"] for e in vectors["valid"] + vectors["invalid"]}
    files["vectors.json"] = (json.dumps(_public(vectors), indent=2) + "\n").encode()
    drift = []
    for name, data in files.items():
        path = HERE / name
        if args.check:
            if not path.is_file() or path.read_bytes() != data:
                drift.append(name)
        else:
            path.write_bytes(data)
    if drift:
        print(f"vectors differ from the code: {', '.join(drift)}", file=sys.stderr)
        return 1
    print(f"{'checked' if args.check else 'wrote'} {len(files)} files in {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
