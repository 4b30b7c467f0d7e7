"""The .qsc format: known answers, Tink interop, round trips, and every tampering rejected."""

from __future__ import annotations

import hashlib
import io
import json
import random
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quickcam.common import crypto_keys
from quickcam.common import cryptofile as cf

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "encryption"
SPEC = json.loads((VECTORS / "vectors.json").read_text())
MB = 1 << 20


def plaintext(length: int) -> bytes:
    return bytes(i % 251 for i in range(length))


def context(length: int, **changes: object) -> cf.Context:
    fields: dict = dict(
        camera_id="cam0",
        message_id="01J9ZQ5W3V8K6T2R4M7N1P0XYZ",
        sequence=3,
        start_ms=1_700_000_000_000,
        content_type="video/mp4",
        plaintext_length=length,
    )
    fields.update(changes)
    return cf.Context(**fields)


def seal(data: bytes, key: cf.SymmetricKey | cf.RecipientPublicKey, **changes: object) -> bytes:
    out = io.BytesIO()
    written = cf.encrypt(data, out, key, context(len(data), **changes))
    assert written == len(out.getvalue())
    return out.getvalue()


def open_(data: bytes, *keys: cf.SymmetricKey | cf.RecipientPrivateKey) -> bytes:
    out = io.BytesIO()
    cf.decrypt(io.BytesIO(data), out, cf.Keyring(keys))
    return out.getvalue()


@pytest.fixture(scope="module")
def key() -> cf.SymmetricKey:
    return cf.SymmetricKey.generate()


@pytest.fixture(scope="module")
def recipient() -> cf.RecipientPrivateKey:
    return cf.RecipientPrivateKey.generate()


# --- Known answers ---------------------------------------------------------------------------


def _vector_ring(entry: dict) -> cf.Keyring:
    if entry["mode"] == 1:
        return cf.Keyring([cf.SymmetricKey.from_hex(entry["key"])])
    return cf.Keyring([cf.RecipientPrivateKey.from_hex(entry["recipient_private_key"])])


@pytest.mark.parametrize("entry", SPEC["valid"], ids=lambda e: e["name"])
def test_writer_reproduces_each_known_answer_vector_byte_for_byte(entry: dict) -> None:
    ctx = cf.Context(**entry["context"])
    extra: dict = {}
    if entry["mode"] == 1:
        key: cf.SymmetricKey | cf.RecipientPublicKey = cf.SymmetricKey.from_hex(entry["key"])
    else:
        key = cf.RecipientPublicKey.from_hex(entry["recipient_public_key"])
        extra = dict(
            file_key=bytes.fromhex(entry["file_key"]),
            ephemeral=X25519PrivateKey.from_private_bytes(bytes.fromhex(entry["ephemeral_private_key"])),
        )
    out = io.BytesIO()
    cf._encrypt(
        plaintext(ctx.plaintext_length),
        out,
        key,
        ctx,
        salt=bytes.fromhex(entry["salt"]),
        nonce_prefix=bytes.fromhex(entry["nonce_prefix"]),
        **extra,
    )
    expected = (VECTORS / entry["file"]).read_bytes()
    assert out.getvalue() == expected
    assert hashlib.sha256(expected).hexdigest() == entry["file_sha256"]
    assert key.key_id == entry["key_id"]


@pytest.mark.parametrize("entry", SPEC["valid"], ids=lambda e: e["name"])
def test_reader_opens_each_known_answer_vector(entry: dict) -> None:
    out = io.BytesIO()
    with (VECTORS / entry["file"]).open("rb") as src:
        header = cf.decrypt(src, out, _vector_ring(entry))
    assert hashlib.sha256(out.getvalue()).hexdigest() == entry["plaintext_sha256"]
    assert header.raw.hex() == entry["header_hex"]
    assert header.context == cf.Context(**entry["context"])
    assert (header.mode, header.key_id, header.file_size) == (
        entry["mode"],
        entry["key_id"],
        entry["file_size"],
    )


@pytest.mark.parametrize("entry", SPEC["invalid"], ids=lambda e: e["name"])
def test_reader_rejects_each_invalid_vector_with_its_named_error(entry: dict) -> None:
    ring = cf.Keyring()
    for hex_key, kind in zip(entry["keyring"], entry["keyring_kinds"], strict=True):
        if kind == "symmetric":
            ring.add(cf.SymmetricKey.from_hex(hex_key))
        else:
            ring.add(cf.RecipientPrivateKey.from_hex(hex_key))
    with (VECTORS / entry["file"]).open("rb") as src, pytest.raises(cf.CryptoFileError) as info:
        cf.decrypt(src, io.BytesIO(), ring)
    assert type(info.value).__name__ == entry["error"], str(info.value)
    assert str(info.value).startswith(info.value.cause + ":")


@pytest.mark.parametrize("entry", SPEC["invalid"], ids=lambda e: e["name"])
def test_a_reader_with_the_early_size_check_gives_the_size_check_error_where_one_is_listed(entry: dict) -> None:
    """docs/encryption.md, Reading: the optional size check may turn a later error into truncated/damaged."""
    ring = cf.Keyring()
    for hex_key, kind in zip(entry["keyring"], entry["keyring_kinds"], strict=True):
        ring.add(cf.SymmetricKey.from_hex(hex_key) if kind == "symmetric" else cf.RecipientPrivateKey.from_hex(hex_key))
    path = VECTORS / entry["file"]
    with path.open("rb") as src, pytest.raises(cf.CryptoFileError) as info:
        cf.check_file_size(cf.read_header(src), path.stat().st_size)  # what `quickcam decrypt` does first
        src.seek(0)
        cf.decrypt(src, io.BytesIO(), ring)
    assert type(info.value).__name__ == entry.get("size_check_error", entry["error"]), str(info.value)


def test_mode2_vectors_hpke_seal_opens_with_the_library_implementation() -> None:
    """Our RFC 9180 seal (needed to fix the ephemeral key) agrees with cryptography's open."""
    for _ in range(20):
        recipient = X25519PrivateKey.generate()
        secret = random.randbytes(32)
        enc, wrapped = cf._hpke_seal(recipient.public_key(), secret, X25519PrivateKey.generate())
        assert crypto_keys._HPKE_SUITE.decrypt(enc + wrapped, recipient, info=cf.HPKE_INFO) == secret


# --- Interop with Google Tink ----------------------------------------------------------------


def _tink_streaming_aead(raw_key: bytes):  # noqa: ANN202 - tink has no public type for this
    tink = pytest.importorskip("tink")
    from tink import cleartext_keyset_handle, streaming_aead
    from tink.proto import aes_gcm_hkdf_streaming_pb2 as gcm_pb2
    from tink.proto import common_pb2, tink_pb2

    streaming_aead.register()
    params = gcm_pb2.AesGcmHkdfStreamingParams(
        ciphertext_segment_size=cf.SEGMENT_SIZE,
        derived_key_size=cf.KEY_SIZE,
        hkdf_hash_type=common_pb2.SHA256,
    )
    key = gcm_pb2.AesGcmHkdfStreamingKey(version=0, params=params, key_value=raw_key)
    keyset = tink_pb2.Keyset(
        primary_key_id=1,
        key=[
            tink_pb2.Keyset.Key(
                key_data=tink_pb2.KeyData(
                    type_url="type.googleapis.com/google.crypto.tink.AesGcmHkdfStreamingKey",
                    value=key.SerializeToString(),
                    key_material_type=tink_pb2.KeyData.SYMMETRIC,
                ),
                status=tink_pb2.ENABLED,
                key_id=1,
                output_prefix_type=tink_pb2.RAW,
            )
        ],
    )
    handle = cleartext_keyset_handle.from_keyset(keyset)
    return handle.primitive(tink.streaming_aead.StreamingAead)


INTEROP_SIZES = [0, 1, 100, cf.FIRST_PLAIN_SEGMENT_SIZE, cf.FIRST_PLAIN_SEGMENT_SIZE + 1, 200_000]


@pytest.mark.parametrize("length", INTEROP_SIZES)
def test_tink_decrypts_the_payload_of_a_mode1_file_with_our_header_as_associated_data(
    key: cf.SymmetricKey, length: int
) -> None:
    data = random.randbytes(length)
    sealed = seal(data, key)
    header = cf.read_header(io.BytesIO(sealed))
    tink_aead = _tink_streaming_aead(key._raw)
    with tink_aead.new_decrypting_stream(io.BytesIO(sealed[header.size :]), header.raw) as s:
        assert s.read() == data


@pytest.mark.parametrize("length", INTEROP_SIZES)
def test_we_decrypt_a_payload_that_tink_encrypted_under_our_header(key: cf.SymmetricKey, length: int) -> None:
    data = random.randbytes(length)
    header = cf.read_header(io.BytesIO(seal(data, key)))

    class Keep(io.BytesIO):
        def close(self) -> None:
            self.kept = self.getvalue()
            super().close()

    sink = Keep()
    with _tink_streaming_aead(key._raw).new_encrypting_stream(sink, header.raw) as s:
        s.write(data)
    assert open_(header.raw + sink.kept, key) == data


def test_tink_decrypts_a_mode2_vector_payload_keyed_by_its_file_key() -> None:
    entry = next(e for e in SPEC["valid"] if e["name"] == "mode2-two-segments")
    sealed = (VECTORS / entry["file"]).read_bytes()
    header = cf.read_header(io.BytesIO(sealed))
    tink_aead = _tink_streaming_aead(bytes.fromhex(entry["file_key"]))
    with tink_aead.new_decrypting_stream(io.BytesIO(sealed[header.size :]), header.raw) as s:
        assert s.read() == plaintext(entry["context"]["plaintext_length"])


# --- Round trips -----------------------------------------------------------------------------

_BOUNDARIES = [0, cf.FIRST_PLAIN_SEGMENT_SIZE] + [
    cf.FIRST_PLAIN_SEGMENT_SIZE + k * cf.PLAIN_SEGMENT_SIZE for k in range(1, 48)
]
sizes = st.one_of(
    st.builds(
        lambda b, d: max(0, min(3 * MB, b + d)),
        st.sampled_from(_BOUNDARIES),
        st.integers(-2, 2),
    ),
    st.integers(0, 3 * MB),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(length=sizes, seed=st.integers(0, 2**32), mode=st.sampled_from([1, 2]), as_stream=st.booleans())
def test_round_trip_restores_every_size_around_segment_boundaries(
    key: cf.SymmetricKey,
    recipient: cf.RecipientPrivateKey,
    length: int,
    seed: int,
    mode: int,
    as_stream: bool,
) -> None:
    data = random.Random(seed).randbytes(length)
    target = key if mode == 1 else recipient.public_key()
    out = io.BytesIO()
    source = io.BytesIO(data) if as_stream else data
    written = cf.encrypt(source, out, target, context(length))
    sealed = out.getvalue()
    header = cf.read_header(io.BytesIO(sealed))
    assert written == len(sealed) == header.file_size
    assert header.mode == mode
    assert open_(sealed, key, recipient) == data


def test_two_encryptions_of_the_same_clip_differ(key: cf.SymmetricKey) -> None:
    data = b"same clip" * 100
    assert seal(data, key) != seal(data, key)


def test_encrypt_reads_a_stream_in_segment_sized_pieces(key: cf.SymmetricKey) -> None:
    """Constant memory: no read asks for more than one segment, whatever the file size."""

    class Recording(io.BytesIO):
        largest = 0

        def readinto(self, buffer) -> int:  # noqa: ANN001 - any writable buffer
            self.largest = max(self.largest, len(buffer))
            return super().readinto(buffer)

        def read(self, size: int | None = -1) -> bytes:
            self.largest = max(self.largest, size if size and size > 0 else 1 << 62)
            return super().read(size)

    source = Recording(random.randbytes(MB))
    cf.encrypt(source, io.BytesIO(), key, context(MB))
    assert source.largest <= cf.PLAIN_SEGMENT_SIZE

    sealed = Recording(seal(random.randbytes(MB), key))
    cf.decrypt(sealed, io.BytesIO(), cf.Keyring([key]))
    assert sealed.largest <= cf.SEGMENT_SIZE


@pytest.mark.parametrize("actual", [99, 101])
def test_encrypt_refuses_a_plaintext_whose_length_differs_from_the_context(key: cf.SymmetricKey, actual: int) -> None:
    with pytest.raises(ValueError, match="plaintext_length"):
        cf.encrypt(bytes(actual), io.BytesIO(), key, context(100))
    with pytest.raises(ValueError, match="plaintext_length"):
        cf.encrypt(io.BytesIO(bytes(actual)), io.BytesIO(), key, context(100))


@pytest.mark.parametrize(
    "change",
    [
        {"camera_id": "x" * 256},
        {"content_type": "vidéo/mp4"},
        {"sequence": -1},
        {"start_ms": 2**64},
        {"plaintext_length": True},
    ],
)
def test_context_rejects_values_the_header_cannot_hold(change: dict) -> None:
    with pytest.raises(ValueError, match="Context"):
        context(0, **change)


# --- Tampering -------------------------------------------------------------------------------


def _expected_flip_error(offset: int) -> type[cf.CryptoFileError]:
    if offset < len(cf.MAGIC):
        return cf.NotQuickcamFileError
    if offset == len(cf.MAGIC):
        return cf.UnknownVersionError
    return cf.DamagedError


def _decrypt_error(data: bytes, ring: cf.Keyring) -> type[cf.CryptoFileError] | None:
    try:
        cf.decrypt(io.BytesIO(data), io.BytesIO(), ring)
    except cf.CryptoFileError as exc:
        return type(exc)
    return None


@pytest.mark.parametrize("mode", [1, 2])
def test_every_single_bit_flip_of_a_small_file_is_rejected_with_the_right_error(
    key: cf.SymmetricKey, recipient: cf.RecipientPrivateKey, mode: int
) -> None:
    sealed = seal(random.randbytes(300), key if mode == 1 else recipient.public_key())
    ring = cf.Keyring([key, recipient])
    wrong = []
    for offset in range(len(sealed)):
        for bit in range(8):
            flipped = bytearray(sealed)
            flipped[offset] ^= 1 << bit
            got = _decrypt_error(bytes(flipped), ring)
            if got is not _expected_flip_error(offset):
                wrong.append((offset, bit, got))
    assert not wrong, f"{len(wrong)} flips misclassified, first: {wrong[:5]}"


def test_sampled_bit_flips_of_a_multi_segment_file_are_all_rejected(key: cf.SymmetricKey) -> None:
    sealed = seal(random.randbytes(5 * cf.SEGMENT_SIZE), key)
    header = cf.read_header(io.BytesIO(sealed))
    ring = cf.Keyring([key])
    edges = [header.size + cf.STREAM_HEADER_SIZE + k * cf.SEGMENT_SIZE for k in range(1, 6)]
    offsets = {o + d for o in edges for d in (-17, -16, -1, 0, 1)} | {len(sealed) - 1}
    offsets |= set(random.Random(4).sample(range(len(sealed)), 150))
    for offset in sorted(o for o in offsets if 0 <= o < len(sealed)):
        flipped = bytearray(sealed)
        flipped[offset] ^= 1 << (offset % 8)
        assert _decrypt_error(bytes(flipped), ring) is _expected_flip_error(offset), offset


@pytest.mark.parametrize("mode", [1, 2])
def test_every_truncation_is_reported_as_truncated(
    key: cf.SymmetricKey, recipient: cf.RecipientPrivateKey, mode: int
) -> None:
    sealed = seal(random.randbytes(200), key if mode == 1 else recipient.public_key())
    ring = cf.Keyring([key, recipient])
    for length in range(len(sealed)):
        assert _decrypt_error(sealed[:length], ring) is cf.TruncatedError, length


def test_truncation_at_any_segment_boundary_is_reported_as_truncated(key: cf.SymmetricKey) -> None:
    sealed = seal(random.randbytes(4 * cf.SEGMENT_SIZE), key)
    start = cf.read_header(io.BytesIO(sealed)).size + cf.STREAM_HEADER_SIZE
    ring = cf.Keyring([key])
    for k in range(5):
        cut = start + k * cf.SEGMENT_SIZE - (cf.STREAM_HEADER_SIZE if k else 0)
        assert _decrypt_error(sealed[:cut], ring) is cf.TruncatedError, k


@pytest.mark.parametrize("extra", [b"\x00", bytes(16), bytes(cf.SEGMENT_SIZE)])
def test_extended_files_are_reported_as_damaged(key: cf.SymmetricKey, extra: bytes) -> None:
    for length in (0, 100, 3 * cf.SEGMENT_SIZE):
        sealed = seal(random.randbytes(length), key)
        assert _decrypt_error(sealed + extra, cf.Keyring([key])) is cf.DamagedError


def test_swapped_or_duplicated_segments_are_reported_as_damaged(key: cf.SymmetricKey) -> None:
    sealed = seal(random.randbytes(4 * cf.SEGMENT_SIZE), key)
    start = cf.read_header(io.BytesIO(sealed)).size + cf.STREAM_HEADER_SIZE
    first = start + cf.FIRST_PLAIN_SEGMENT_SIZE + cf.TAG_SIZE  # segments 2 and 3 are full
    seg2 = sealed[first : first + cf.SEGMENT_SIZE]
    seg3 = sealed[first + cf.SEGMENT_SIZE : first + 2 * cf.SEGMENT_SIZE]
    rest = sealed[first + 2 * cf.SEGMENT_SIZE :]
    ring = cf.Keyring([key])
    assert _decrypt_error(sealed[:first] + seg3 + seg2 + rest, ring) is cf.DamagedError
    assert _decrypt_error(sealed[:first] + seg2 + seg2 + rest, ring) is cf.DamagedError


def test_a_header_from_another_file_or_a_forged_context_is_rejected(key: cf.SymmetricKey) -> None:
    data = random.randbytes(1000)
    one, two = seal(data, key), seal(data, key, camera_id="cam9", sequence=4)
    size_one = cf.read_header(io.BytesIO(one)).size
    size_two = cf.read_header(io.BytesIO(two)).size
    ring = cf.Keyring([key])
    # Whole headers swapped between two files under the same key.
    assert _decrypt_error(two[:size_two] + one[size_one:], ring) is cf.DamagedError
    # A context re-encoded with a valid (unkeyed) check: only the payload tag catches it.
    forged = cf._encode_header(cf.MODE_SYMMETRIC, bytes.fromhex(key.key_id), context(1000, camera_id="cam1"))
    assert forged != one[:size_one]
    assert _decrypt_error(forged + one[size_one:], ring) is cf.DamagedError


def test_a_stream_header_length_byte_other_than_40_is_damaged(key: cf.SymmetricKey) -> None:
    sealed = bytearray(seal(b"x", key))
    sealed[cf.read_header(io.BytesIO(bytes(sealed))).size] = 41
    assert _decrypt_error(bytes(sealed), cf.Keyring([key])) is cf.DamagedError


def test_non_quickcam_and_empty_inputs_get_their_own_errors() -> None:
    assert _decrypt_error(b"", cf.Keyring()) is cf.TruncatedError
    assert _decrypt_error(cf.MAGIC[:5], cf.Keyring()) is cf.TruncatedError
    assert _decrypt_error(b"\x00\x00\x00\x18ftypmp42", cf.Keyring()) is cf.NotQuickcamFileError
    assert _decrypt_error(cf.MAGIC + b"\x02" + bytes(100), cf.Keyring()) is cf.UnknownVersionError


# --- Keys and key rings ----------------------------------------------------------------------


def test_a_key_not_in_the_ring_is_a_wrong_key_error_naming_both_ids_but_no_key(
    key: cf.SymmetricKey, recipient: cf.RecipientPrivateKey
) -> None:
    other = cf.SymmetricKey.generate()
    for target in (key, recipient.public_key()):
        with pytest.raises(cf.WrongKeyError) as info:
            open_(seal(b"clip", target), other)
        message = str(info.value)
        assert target.key_id in message and other.key_id in message
        assert key.to_hex() not in message and other.to_hex() not in message
        assert "\n" not in message


def test_rotation_old_keys_from_the_environment_still_open_old_files(
    tmp_path: Path, recipient: cf.RecipientPrivateKey
) -> None:
    old1, old2, new = (cf.SymmetricKey.generate() for _ in range(3))
    key_file = tmp_path / "recipient.key"
    key_file.write_bytes(recipient.to_pem())
    ring = cf.Keyring.from_env(
        {
            "ENCRYPTION_KEY": new.to_hex(),
            "ENCRYPTION_KEYS_OLD": f" {old1.to_hex()} ,{old2.to_hex().upper()},",
            "ENCRYPTION_PRIVATE_KEY_FILE": str(key_file),
        }
    )
    assert len(ring) == 4
    for target in (old1, old2, new, recipient.public_key()):
        out = io.BytesIO()
        cf.decrypt(io.BytesIO(seal(b"clip", target)), out, ring)
        assert out.getvalue() == b"clip"


def test_a_malformed_key_names_its_variable_and_never_echoes_the_value() -> None:
    secret = "ab" * 31 + "zz"
    with pytest.raises(cf.KeyFormatError) as info:
        cf.Keyring.from_env({"ENCRYPTION_KEY": "00" * 32, "ENCRYPTION_KEYS_OLD": "00" * 32 + "," + secret})
    assert "ENCRYPTION_KEYS_OLD item 2" in str(info.value)
    assert secret not in str(info.value) and "ab" * 31 not in str(info.value)


def test_key_reprs_and_ids_never_reveal_key_material(key: cf.SymmetricKey, recipient: cf.RecipientPrivateKey) -> None:
    texts = [repr(key), str(key), repr(recipient), repr(cf.Keyring([key, recipient]))]
    assert all(key.to_hex() not in t for t in texts)
    assert len(key.key_id) == 16 and key.key_id != key.to_hex()[:16]
    assert key == cf.SymmetricKey.from_hex(key.to_hex())


def test_recipient_keys_survive_their_file_formats(tmp_path: Path, recipient: cf.RecipientPrivateKey) -> None:
    public = recipient.public_key()
    (tmp_path / "pub.pem").write_bytes(public.to_pem())
    (tmp_path / "pub.hex").write_text(public.to_hex() + "\n")
    assert cf.RecipientPublicKey.load(tmp_path / "pub.pem") == public
    assert cf.RecipientPublicKey.load(tmp_path / "pub.hex") == public
    assert cf.RecipientPrivateKey.from_pem(recipient.to_pem()).key_id == recipient.key_id
    with pytest.raises(cf.KeyFormatError, match="cannot read"):
        cf.RecipientPrivateKey.load(tmp_path / "missing.key")


def test_inspecting_a_header_needs_no_key_and_predicts_the_file_size(key: cf.SymmetricKey) -> None:
    sealed = seal(random.randbytes(70_000), key, content_type="image/jpeg", sequence=0)
    header = cf.read_header(io.BytesIO(sealed))
    assert header.context == context(70_000, content_type="image/jpeg", sequence=0)
    assert header.file_size == len(sealed)
    cf.check_file_size(header, len(sealed))
    with pytest.raises(cf.TruncatedError):
        cf.check_file_size(header, len(sealed) - 1)
    with pytest.raises(cf.DamagedError):
        cf.check_file_size(header, len(sealed) + 1)


def test_a_64_character_key_that_is_not_hex_names_the_position_of_the_bad_character() -> None:
    text = "0" * 40 + "g" + "0" * 23
    with pytest.raises(cf.KeyFormatError) as caught:
        cf.SymmetricKey.from_hex(text)
    assert "non-hex character at position 41" in str(caught.value)
    assert "got 64 characters" not in str(caught.value)


def test_a_pem_key_file_that_is_not_pem_or_not_x25519_says_which_check_failed() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = Ed25519PrivateKey.generate()  # a real PEM key of another kind
    other_private = other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
    other_public = other.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    cases = [(cf.RecipientPrivateKey, b"not a key", "not an unencrypted PEM private key (write one with: "
              "quickcam keygen --recipient PATH)"),
             (cf.RecipientPrivateKey, other_private, "the private key file does not hold an X25519 key"),
             (cf.RecipientPublicKey, b"not a key", "the recipient public key file is not a PEM public key"),
             (cf.RecipientPublicKey, other_public, "the recipient public key is not an X25519 key")]
    for kind, data, said in cases:
        with pytest.raises(cf.KeyFormatError) as caught:
            kind.from_pem(data)
        assert said in str(caught.value)
    private = cf.RecipientPrivateKey.generate()
    assert cf.RecipientPrivateKey.from_pem(private.to_pem()).key_id == private.key_id
    assert cf.RecipientPublicKey.from_pem(private.public_key().to_pem()) == private.public_key()
