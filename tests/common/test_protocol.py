"""Properties of the codec: canonical, round-tripping, and total on hostile input."""

from __future__ import annotations

import random
import string
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quickcam.common import protocol

ids = st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=64)
cameras = st.text(string.ascii_letters + string.digits + "_.-", min_size=1, max_size=64).filter(
    lambda c: c not in (".", ".."))
times = st.integers(0, protocol.TIME_MS_MAX - 1)
counts = st.integers(0, 2**63 - 1)
pixels = st.integers(1, 65535)
words = st.from_regex(r"\A[a-z0-9][a-z0-9._-]{0,31}\Z")
boxes = st.lists(st.lists(st.integers(0, 65535), min_size=4, max_size=4), max_size=5)
payloads = st.binary(max_size=256)
msgpack_ints = st.integers(-(2**63), 2**64 - 1)


def _common(msg_type: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"v": st.sampled_from(["1.0", "1.1", "1.42"]), "type": st.just(msg_type),
                                  "id": ids, "time_ms": times})


@st.composite
def snapshots(draw: st.DrawFn) -> tuple[dict[str, Any], bytes]:
    payload = draw(payloads)
    header = draw(_common("snapshot")) | {
        "camera": draw(cameras), "event": draw(ids), "width": draw(pixels), "height": draw(pixels),
        "content_type": draw(st.sampled_from(["image/jpeg", "image/png", "image/webp"])),
        **protocol.payload_fields(payload),
    }
    optional = {"seq": st.integers(0, 2**32 - 1), "boxes": boxes, "motion_area": st.floats(0, 1),
                "faces": boxes}
    for name, strategy in optional.items():
        if draw(st.booleans()):
            header[name] = draw(strategy)
    return header, payload


@st.composite
def segments(draw: st.DrawFn) -> tuple[dict[str, Any], bytes]:
    payload = draw(payloads)
    start = draw(times)
    header = draw(_common("segment")) | {
        "camera": draw(cameras), "event": draw(ids), "seq": draw(st.integers(0, 2**32 - 1)),
        "final": draw(st.booleans()), "start_ms": start,
        "end_ms": draw(st.integers(start, protocol.TIME_MS_MAX)), "frames": draw(st.integers(1, 10**6)),
        "fps": draw(st.one_of(st.integers(1, 120), st.floats(0.001, 1000))), "width": draw(pixels),
        "height": draw(pixels), "container": draw(words), "codec": draw(words),
        "content_type": "video/mp4", **protocol.payload_fields(payload),
    }
    if draw(st.booleans()):
        header["faces"] = draw(st.lists(st.fixed_dictionaries(
            {"time_ms": times, "box": st.lists(st.integers(0, 65535), min_size=4, max_size=4)},
            optional={"score": st.one_of(st.just(1), st.floats(0, 1)), "label": st.text(max_size=16)}),
            max_size=3))
    return header, payload


@st.composite
def statuses(draw: st.DrawFn) -> tuple[dict[str, Any], None]:
    camera_status = st.fixed_dictionaries(
        {"state": st.sampled_from(["ok", "lost", "dark", "starting"]),
         "fps": st.one_of(st.integers(0, 60), st.floats(0, 1000)), "frames": counts, "dropped": counts},
        optional={"events": counts, "last_event_ms": times})
    header = draw(_common("status")) | {
        "cameras": draw(st.dictionaries(cameras, camera_status, max_size=4)),
        "outbox_depth": draw(counts)}
    return header, None


messages = st.one_of(snapshots(), segments(), statuses())


def _shuffled(header: dict[str, Any], seed: int) -> dict[str, Any]:
    keys = list(header)
    random.Random(seed).shuffle(keys)
    return {k: header[k] for k in keys}


@given(messages, st.integers())
def test_encoding_is_canonical_whatever_the_key_order(message: tuple[dict, bytes | None], seed: int) -> None:
    header, payload = message
    frames = protocol.encode(protocol.Message(header, payload))
    assert protocol.encode(protocol.Message(_shuffled(header, seed), payload)) == frames
    raw = frames[1]
    decoded = msgpack.unpackb(raw)
    assert list(decoded) == sorted(decoded, key=str.encode)


@given(messages)
def test_decode_gives_back_what_was_encoded(message: tuple[dict, bytes | None]) -> None:
    header, payload = message
    frames = protocol.encode(protocol.Message(header, payload))
    decoded = protocol.decode(frames, accept=protocol.DETECTOR_TYPES)
    assert decoded.payload == payload
    assert decoded.header == header  # 15 == 15.0: the float rule changes the bytes, not the value
    assert protocol.encode(decoded) == frames


@given(segments())
def test_a_whole_fps_is_written_as_float_64(message: tuple[dict, bytes]) -> None:
    header, payload = message
    header["fps"] = 15
    raw = protocol.encode(protocol.Message(header, payload))[1]
    assert b"\xa3fps\xcb" in raw


@settings(max_examples=500)
@given(st.lists(st.binary(max_size=64), max_size=5))
def test_random_frames_only_ever_raise_protocol_error(frames: list[bytes]) -> None:
    try:
        protocol.decode(frames)
    except protocol.ProtocolError as exc:
        assert exc.code in protocol.NACK_CODES
        assert isinstance(exc.ref, str)


@settings(max_examples=500)
@given(messages, st.data())
def test_a_mutated_header_is_accepted_or_refused_with_a_code_never_a_crash(
    message: tuple[dict, bytes | None], data: st.DataObject,
) -> None:
    header, payload = message
    name = data.draw(st.sampled_from(sorted(header)))
    mutated = dict(header)
    mutated[name] = data.draw(st.one_of(st.none(), st.booleans(), msgpack_ints, st.floats(),
                                        st.text(max_size=8), st.binary(max_size=8),
                                        st.lists(msgpack_ints, max_size=3),
                                        st.dictionaries(st.text(max_size=3), msgpack_ints, max_size=2)))
    frames = [protocol.PROTOCOL_FRAME, msgpack.packb(mutated, use_bin_type=True)]
    if payload is not None:
        frames.append(payload)
    try:
        protocol.decode(frames, accept=protocol.DETECTOR_TYPES)
    except protocol.ProtocolError as exc:
        assert exc.code in protocol.NACK_CODES


def test_unknown_fields_are_kept_but_ignored() -> None:
    header = protocol.make_header("status", cameras={}, outbox_depth=0, x_new={"b": 2, "a": 1})
    decoded = protocol.decode(protocol.encode(protocol.Message(header)))
    assert decoded.header["x_new"] == {"a": 1, "b": 2}


@pytest.mark.parametrize("unknown", [None, [1, None], {"deep": {"x": None}}, b"bytes"])
def test_the_encoder_refuses_nil_and_binary_inside_unknown_fields_as_the_native_one_does(unknown: Any) -> None:
    # Before, Python sent them (nil is never used, docs/protocol.md section 3; no field is binary) where the
    # native encoder refused: one outbox header, sent by one detector and set aside by the other.
    header = protocol.make_header("status", cameras={}, outbox_depth=0, x_new=unknown)
    with pytest.raises(protocol.ProtocolError, match="cannot encode a (nil|binary)") as refused:
        protocol.encode(protocol.Message(header))
    assert refused.value.code == "wrong_type"
    received = protocol.decode([protocol.PROTOCOL_FRAME, msgpack.packb(header, use_bin_type=True)])
    assert received.header["x_new"] == unknown  # a receiver ignores an unknown field, whatever it holds


def test_the_encoder_refuses_a_header_that_breaks_the_spec() -> None:
    with pytest.raises(protocol.ProtocolError, match="missing_field"):
        protocol.encode(protocol.Message(protocol.make_header("status", cameras={})))


def test_a_nack_takes_its_retry_flag_from_the_code_and_cuts_long_text() -> None:
    nack = protocol.make_nack("abc", "busy", "x" * 5000)
    assert nack["retry"] is True and len(nack["text"]) == protocol.MAX_NACK_TEXT
    assert protocol.make_nack("../x", "bad_value", "no")["ref"] == ""
    protocol.encode(protocol.Message(nack))


def test_a_paused_credit_must_say_why() -> None:
    with pytest.raises(protocol.ProtocolError) as caught:
        protocol.encode(protocol.Message(protocol.make_header("credit", messages=0, bytes=0)))
    assert caught.value.code == "missing_field"


def test_new_message_ids_are_valid_unique_and_time_ordered() -> None:
    made = [protocol.new_message_id() for _ in range(1000)]
    assert all(protocol.ID_RE.fullmatch(i) for i in made)
    assert len(set(made)) == len(made)
    assert [i[:13] for i in made] == sorted(i[:13] for i in made)


@pytest.mark.parametrize("header", [b"\xc1", b"\x81\xa1", b"\x80\x00"], ids=["reserved-byte", "cut", "trailing"])
def test_a_header_that_is_not_msgpack_is_named_without_an_empty_reason(header: bytes) -> None:
    """msgpack's FormatError has no text: the nack said "(FormatError: )" to the person reading it."""
    with pytest.raises(protocol.ProtocolError) as refused:
        protocol.decode([b"QSC1", header])
    assert refused.value.code == "bad_header"
    assert "header is not one msgpack value (" in str(refused.value)
    assert ": )" not in str(refused.value), str(refused.value)
