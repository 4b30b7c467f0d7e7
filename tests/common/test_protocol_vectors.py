"""The codec against the spec's vectors, byte for byte, and the spec's tables against the codec."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
from typing import Any

import pytest

from quickcam.common import protocol
from tests.conftest import REPO

VECTORS = REPO / "tests" / "vectors" / "protocol"
SPEC = REPO / "docs" / "protocol.md"


def _load(folder: str) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted((VECTORS / folder).glob("*.json"))]


VALID = _load("valid")
INVALID = _load("invalid")
CANONICAL = [v for v in VALID if v["canonical"]]


def _frames(vector: dict[str, Any]) -> list[bytes]:
    return [bytes.fromhex(f) for f in vector["frames"]]


def _accepts(sender: str) -> tuple[str, ...]:
    return protocol.DETECTOR_TYPES if sender == "detector" else protocol.UPLOADER_TYPES


def test_the_vectors_on_disk_are_what_the_generator_writes() -> None:
    run = subprocess.run([sys.executable, str(VECTORS / "make_vectors.py"), "--check"],
                         capture_output=True, text=True, cwd=REPO, timeout=60)
    assert run.returncode == 0, run.stderr


def test_there_is_a_valid_vector_for_every_message_type_and_an_invalid_one_for_every_nack_code() -> None:
    types = {v["header"]["type"] for v in VALID}
    assert types == set(protocol.SCHEMAS)
    codes = {v["nack"]["code"] for v in INVALID}
    assert codes == set(protocol.NACK_CODES) - {"busy", "internal"}  # states of the uploader, not inputs


@pytest.mark.parametrize("vector", CANONICAL, ids=lambda v: v["name"])
def test_encoding_a_vector_header_gives_its_exact_frames(vector: dict[str, Any]) -> None:
    frames = _frames(vector)
    payload = frames[2] if vector["payload_frame"] else None
    assert protocol.encode(protocol.Message(vector["header"], payload)) == frames


@pytest.mark.parametrize("vector", VALID, ids=lambda v: v["name"])
def test_decoding_a_valid_vector_gives_its_header(vector: dict[str, Any]) -> None:
    message = protocol.decode(_frames(vector), accept=_accepts(vector["sender"]))
    assert message.header == vector["header"]
    assert (message.payload is not None) == vector["payload_frame"]


def test_a_non_canonical_header_is_accepted_and_re_encoded_canonically() -> None:
    loose = next(v for v in VALID if v["name"] == "hello-not-canonical")
    strict = next(v for v in VALID if v["name"] == "hello")
    message = protocol.decode(_frames(loose), accept=protocol.DETECTOR_TYPES)
    assert _frames(loose) != _frames(strict)
    assert protocol.encode(message) == _frames(strict)


@pytest.mark.parametrize("vector", [v for v in INVALID if v["level"] == "codec"], ids=lambda v: v["name"])
def test_each_invalid_vector_is_refused_with_its_nack_code(vector: dict[str, Any]) -> None:
    accept = protocol.DETECTOR_TYPES if vector["receiver"] == "uploader" else protocol.UPLOADER_TYPES
    with pytest.raises(protocol.ProtocolError) as caught:
        protocol.decode(_frames(vector), max_payload=vector.get("max_payload", protocol.DEFAULT_MAX_PAYLOAD),
                        accept=accept)
    assert caught.value.code == vector["nack"]["code"], caught.value.text
    assert caught.value.ref == vector["nack"]["ref"]
    assert caught.value.retry == vector["nack"]["retry"]


@pytest.mark.parametrize("vector", [v for v in INVALID if v["level"] == "receiver"], ids=lambda v: v["name"])
def test_receiver_level_vectors_pass_the_codec_so_only_the_uploader_can_refuse_them(
    vector: dict[str, Any],
) -> None:
    assert protocol.decode(_frames(vector), accept=protocol.DETECTOR_TYPES).id == vector["nack"]["ref"]


# -- an encoder written from section 3 of the spec alone ------------------------------------


def spec_pack(value: Any) -> bytes:
    """The canonical msgpack of docs/protocol.md section 3, independent of the msgpack library."""
    if isinstance(value, bool):
        return b"\xc3" if value else b"\xc2"
    if isinstance(value, int):
        if 0 <= value <= 0x7F:
            return bytes([value])
        if -32 <= value < 0:
            return struct.pack(">b", value)
        for marker, fmt, lo, hi in ((0xCC, ">B", 0, 0xFF), (0xCD, ">H", 0, 0xFFFF),
                                    (0xCE, ">I", 0, 0xFFFF_FFFF), (0xCF, ">Q", 0, (1 << 64) - 1),
                                    (0xD0, ">b", -128, 127), (0xD1, ">h", -(1 << 15), (1 << 15) - 1),
                                    (0xD2, ">i", -(1 << 31), (1 << 31) - 1),
                                    (0xD3, ">q", -(1 << 63), (1 << 63) - 1)):
            if lo <= value <= hi and (value >= 0) == (marker < 0xD0):
                return bytes([marker]) + struct.pack(fmt, value)
        raise ValueError(value)
    if isinstance(value, float):
        return b"\xcb" + struct.pack(">d", value)
    if isinstance(value, str):
        raw = value.encode()
        if len(raw) <= 31:
            return bytes([0xA0 | len(raw)]) + raw
        return _sized(len(raw), 0xD9, 0xDA, 0xDB) + raw
    if isinstance(value, list):
        head = bytes([0x90 | len(value)]) if len(value) <= 15 else _sized(len(value), None, 0xDC, 0xDD)
        return head + b"".join(spec_pack(v) for v in value)
    if isinstance(value, dict):
        head = bytes([0x80 | len(value)]) if len(value) <= 15 else _sized(len(value), None, 0xDE, 0xDF)
        items = sorted(value.items(), key=lambda kv: kv[0].encode())
        return head + b"".join(spec_pack(k) + spec_pack(v) for k, v in items)
    raise TypeError(type(value))


def _sized(n: int, m8: int | None, m16: int, m32: int) -> bytes:
    if m8 is not None and n <= 0xFF:
        return bytes([m8, n])
    return bytes([m16]) + struct.pack(">H", n) if n <= 0xFFFF else bytes([m32]) + struct.pack(">I", n)


@pytest.mark.parametrize("vector", CANONICAL, ids=lambda v: v["name"])
def test_an_encoder_written_from_the_spec_alone_reproduces_every_canonical_vector(
    vector: dict[str, Any],
) -> None:
    # JSON keeps 15.0 a float and 15 an int, which is all the float rule needs here.
    assert spec_pack(vector["header"]) == _frames(vector)[1]


# -- the spec's tables are the codec's schemas ---------------------------------------------


def _spec_tables() -> dict[str, list[tuple[str, str, bool]]]:
    """Field tables of docs/protocol.md by heading: ### `type` or 'A **face** is a map'."""
    tables: dict[str, list[tuple[str, str, bool]]] = {}
    current = None
    for line in SPEC.read_text().splitlines():
        heading = re.match(r"^### `(\w+)`", line) or re.match(r"^A \*\*([\w ]+)\*\*.* is a map", line)
        if heading:
            current = heading.group(1)
        elif line.startswith("## "):
            current = "common" if "Common fields" in line else None
        row = re.match(r"^\| `(\w+)` \| (\w+) \| (yes|no) \|", line)
        if current and row:
            tables.setdefault(current, []).append((row.group(1), row.group(2), row.group(3) == "yes"))
    return tables


def _schema(fields: tuple[protocol.Field, ...]) -> list[tuple[str, str, bool]]:
    return [(f.name, f.kind, f.required) for f in fields]


def test_the_spec_field_tables_list_exactly_the_codec_fields_in_check_order() -> None:
    tables = _spec_tables()
    assert tables.pop("common") == _schema(protocol.COMMON_FIELDS)
    assert tables.pop("face") == _schema(protocol.FACE_FIELDS)
    assert tables.pop("camera status") == _schema(protocol.CAMERA_STATUS_FIELDS)
    assert tables == {name: _schema(fields) for name, fields in protocol.SCHEMAS.items()}


def test_the_spec_nack_table_lists_exactly_the_codec_codes_and_retry_flags() -> None:
    rows = re.findall(r"^\| `(\w+)` \| (true|false) \|", SPEC.read_text(), re.MULTILINE)
    assert {code: retry == "true" for code, retry in rows} == protocol.NACK_CODES


def test_the_spec_version_rule_examples_are_what_the_codec_accepts() -> None:
    """The `v` row gives accepted examples and, after "not", refused ones; the codec must agree with each."""
    row = next(line for line in SPEC.read_text().splitlines() if line.startswith("| `v` |"))
    accepted, _, refused = re.search(r"\((.*)\)", row)[1].partition("not")
    examples = [(v, True) for v in re.findall(r"`([^`]+)`", accepted)] + \
               [(v, False) for v in re.findall(r"`([^`]+)`", refused)]
    assert len(examples) >= 3, row
    for version, ok in examples:
        header = protocol.make_header("status", cameras={}, outbox_depth=0)
        header["v"] = version
        try:
            protocol.decode(protocol.encode(protocol.Message(header)), accept=protocol.DETECTOR_TYPES)
            got = True
        except protocol.ProtocolError as exc:
            assert exc.code == "bad_version", (version, exc)
            got = False
        assert got == ok, f"docs/protocol.md says v {version!r} is {'accepted' if ok else 'refused'}"
