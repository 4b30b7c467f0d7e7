"""Generate (or, with --check, verify) the wire-protocol vectors beside this script.

``valid/NAME.json``: one message, its exact frames in hex (routing id not
included), the header as JSON, and whether the header bytes are canonical.
A sender must produce exactly these bytes from this header; a receiver must
accept them. ``invalid/NAME.json``: frames a receiver must reject, with the
nack ``code`` and ``retry`` it must answer. See docs/protocol.md, "Test
vectors". Run from the repository root:

    .venv/bin/python tests/vectors/protocol/make_vectors.py          # rewrite
    .venv/bin/python tests/vectors/protocol/make_vectors.py --check  # verify, exit 1 on drift

Change the vectors only together with the protocol version: they are the spec's examples.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import struct
import sys
from pathlib import Path
from typing import Any

import msgpack

from quickcam.common import protocol as p

HERE = Path(__file__).resolve().parent
ID = "0018fcf6904338f00112233445"  # 13 hex digits of Unix ms (TIME_MS) + 13 random, as both detectors make them
ID2 = "0018fcf690433f1a2b3c4d5e6f"
EVENT = "0018fcf6819d3ffeeddccbbaa9"  # made a minute earlier
TIME_MS = 1_717_171_717_171  # 2024-05-31T16:08:37.171Z
QSC1 = b"QSC1"

# Payloads: trivial to regenerate anywhere (byte i is i % 251 between a fixed head and tail).
JPEG = b"\xff\xd8\xff\xe0" + bytes(i % 251 for i in range(56)) + b"\xff\xd9"
MP4 = b"\x00\x00\x00\x18ftypisom" + bytes(i % 251 for i in range(100))


def common(msg_type: str, msg_id: str = ID, time_ms: int = TIME_MS) -> dict[str, Any]:
    return {"v": p.PROTOCOL_VERSION, "type": msg_type, "id": msg_id, "time_ms": time_ms}


def payload_fields(payload: bytes) -> dict[str, Any]:
    return {"size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}


HELLO_MIN = {**common("hello"), "detector": "quickcam-detector", "detector_version": "0.1.0",
             "cameras": ["cam0"]}
HELLO = {**HELLO_MIN, "cameras": ["cam0", "porch"], "capabilities": ["credit", "snapshot", "segment"],
         "heartbeat_ms": 2000, "ack_timeout_ms": 10000}
SNAPSHOT_MIN = {**common("snapshot"), "camera": "cam0", "event": EVENT, "width": 640, "height": 480,
                "content_type": "image/jpeg", **payload_fields(JPEG)}
SNAPSHOT = {**SNAPSHOT_MIN, "seq": 1, "boxes": [[120, 200, 80, 240], [0, 0, 16, 16]],
            "faces": [[140, 210, 40, 48]],
            "motion_area": 0.0625}
SEGMENT = {**common("segment", ID2), "camera": "cam0", "event": EVENT, "seq": 0, "final": False,
           "start_ms": TIME_MS - 2000, "end_ms": TIME_MS - 67, "frames": 30, "fps": 15.0,
           "width": 640, "height": 480, "container": "mp4", "codec": "h264",
           "content_type": "video/mp4", **payload_fields(MP4)}
SEGMENT_FINAL = {**SEGMENT, "seq": 3, "final": True, "faces": [
    {"time_ms": TIME_MS - 1500, "box": [10, 20, 30, 40]},
    {"time_ms": TIME_MS - 1433, "box": [12, 20, 30, 40], "score": 0.875, "label": "unknown"}]}
STATUS = {**common("status"), "cameras": {
    "cam0": {"state": "ok", "fps": 14.98, "frames": 123456, "dropped": 3, "dark": False,
             "dropped_recording": 0, "width": 640, "height": 480, "events": 2,
             "last_event_ms": TIME_MS - 5000, "reopens": 0, "faces": 1},
    "porch": {"state": "lost", "fps": 0.0, "frames": 0, "dropped": 0}},
    "outbox_depth": 4, "outbox_bytes": 1_048_576, "refused": 0}
ACK = {**common("ack", ID2), "ref": ID}
NACK = {**common("nack", ID2), "ref": ID, "code": "sha256_mismatch",
        "text": "payload does not hash to its sha256", "retry": False}
CREDIT = {**common("credit", ID2), "messages": 16, "bytes": 67_108_864, "max_payload": 67_108_864}
CREDIT_PAUSED = {**common("credit", ID2), "messages": 0, "bytes": 0,
                 "reason": "spool spool is at its 2048 MB cap; waiting for uploads"}


def nested(levels: int) -> Any:
    """An array nested ``levels`` deep: [[...[1]...]]."""
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


def _not_canonical(header: dict[str, Any]) -> bytes:
    """``header`` with its keys in reverse order and heartbeat_ms last, as uint 32 (0xce)."""
    rest = {k: header[k] for k in reversed(list(header)) if k != "heartbeat_ms"}
    body = msgpack.packb(rest, use_bin_type=True)
    assert body[0] == 0x80 + len(rest) < 0x8F  # fixmap: one more key fits
    return bytes([body[0] + 1]) + body[1:] + b"\xacheartbeat_ms\xce" + struct.pack(">I", header["heartbeat_ms"])


def canonical(header: dict[str, Any], payload: bytes | None = None) -> list[bytes]:
    return p.encode(p.Message(header, payload))


VALID: list[tuple[str, str, str, list[bytes], dict[str, Any], bool]] = [
    # name, direction, description, frames, header as decoded, canonical?
    ("hello-minimal", "detector", "hello with only the required fields",
     canonical(HELLO_MIN), HELLO_MIN, True),
    ("hello", "detector", "hello with every field",
     canonical(HELLO), HELLO, True),
    ("snapshot-minimal", "detector", "snapshot with only the required fields; payload is frame 3",
     canonical(SNAPSHOT_MIN, JPEG), SNAPSHOT_MIN, True),
    ("snapshot", "detector", "snapshot with motion boxes, a face and the motion area",
     canonical(SNAPSHOT, JPEG), SNAPSHOT, True),
    ("segment", "detector", "first segment of an event (final false); fps is a float 64",
     canonical(SEGMENT, MP4), SEGMENT, True),
    ("segment-final", "detector", "last segment of an event, with two sightings of a face",
     canonical(SEGMENT_FINAL, MP4), SEGMENT_FINAL, True),
    ("segment-whole-fps", "detector",
     "fps given as the integer 15 is written as float 64 15.0: the canonical form of a float field",
     canonical({**SEGMENT, "fps": 15}, MP4), SEGMENT, True),
    ("status", "detector", "heartbeat with two cameras, one lost; nested maps are sorted too",
     canonical(STATUS), STATUS, True),
    ("status-stopping", "detector", "the last status before a clean stop (1.1): silence after it is a stop",
     canonical({**STATUS, "stopping": True}), {**STATUS, "stopping": True}, True),
    ("status-unknown-fields", "detector",
     "a 1.3 detector's status with fields this version does not know: receivers ignore them",
     canonical({**STATUS, "v": "1.3", "x_temperature_c": 41.5, "x_extra": {"b": 1, "a": [True]}}),
     {**STATUS, "v": "1.3", "x_temperature_c": 41.5, "x_extra": {"a": [True], "b": 1}}, True),
    ("ack", "uploader", "the item with id ref is stored durably", canonical(ACK), ACK, True),
    ("ack-duplicate", "uploader", "ref was stored before with the same sha256: acked again, stored once",
     canonical({**ACK, "duplicate": True}), {**ACK, "duplicate": True}, True),
    ("nack", "uploader", "permanent refusal: retry false", canonical(NACK), NACK, True),
    ("nack-unreadable", "uploader", "nack for a message whose id could not be read: ref is empty",
     canonical({**NACK, "ref": "", "code": "bad_header", "text": "header is not a msgpack map"}),
     {**NACK, "ref": "", "code": "bad_header", "text": "header is not a msgpack map"}, True),
    ("nack-busy", "uploader", "temporary refusal: retry true; the detector sends the item again later",
     canonical({**NACK, "code": "busy", "text": "disk full", "retry": True}),
     {**NACK, "code": "busy", "text": "disk full", "retry": True}, True),
    ("credit", "uploader", "window: 16 messages and 64 MiB in flight", canonical(CREDIT), CREDIT, True),
    ("credit-paused", "uploader", "messages 0: paused, with the reason", canonical(CREDIT_PAUSED),
     CREDIT_PAUSED, True),
    ("hello-nested-32", "detector",
     "an unknown field nested 31 arrays deep: with the header map, 32 levels, the most a header may nest",
     canonical({**HELLO_MIN, "x_deep": nested(31)}), {**HELLO_MIN, "x_deep": nested(31)}, True),
    ("hello-not-canonical", "detector",
     "valid but not canonical (keys unsorted, 2000 as uint 32): receivers accept it; senders write "
     "the canonical bytes of vector 'hello' instead",
     [QSC1, _not_canonical(HELLO)], HELLO, False),
]


def _map_with(header: dict[str, Any], pair: bytes) -> bytes:
    """``header`` as a map with one more key/value pair, already packed, after its own."""
    body = msgpack.packb(header, use_bin_type=True)
    assert 0x80 <= body[0] < 0x8F  # fixmap: one more pair fits
    return bytes([body[0] + 1]) + body[1:] + pair


def pack(header: Any) -> bytes:
    return msgpack.packb(header, use_bin_type=True)


def without(header: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in header.items() if k not in names}


def snap(**changes: Any) -> list[bytes]:
    return [QSC1, pack({**SNAPSHOT_MIN, **changes}), JPEG]


def seg(**changes: Any) -> list[bytes]:
    return [QSC1, pack({**SEGMENT, **changes}), MP4]


INVALID: list[tuple[str, str, list[bytes], str, dict[str, Any]]] = [
    # name, description, frames, expected nack code, extra (receiver, max_payload, ref, before, ...)
    ("one-frame", "only the protocol frame", [QSC1], "bad_frames", {}),
    ("four-frames", "a payload type with two payload frames", [*snap(), b"more"], "bad_frames", {}),
    ("not-qsc", "first frame is not a quickcam protocol frame", [b"HTTP", pack(HELLO)], "bad_frames", {}),
    ("major-2", "a future major version: QSC2", [b"QSC2", pack({**HELLO, "v": "2.0"})], "bad_version", {}),
    ("v-2", "header v names major 2", [QSC1, pack({**HELLO, "v": "2.0"})], "bad_version", {}),
    ("v-garbage", "header v is not MAJOR.MINOR", [QSC1, pack({**HELLO, "v": "one"})], "bad_version", {}),
    ("v-integer", "header v is an integer, not text", [QSC1, pack({**HELLO, "v": 1})], "wrong_type", {}),
    ("v-missing", "header without v", [QSC1, pack(without(HELLO, "v"))], "missing_field", {}),
    ("not-msgpack", "header is the reserved byte 0xc1", [QSC1, b"\xc1"], "bad_header", {}),
    ("trailing-bytes", "a valid map followed by another byte", [QSC1, pack(HELLO) + b"\x00"],
     "bad_header", {}),
    ("not-a-map", "header is an array", [QSC1, pack([1, 2, 3])], "bad_header", {}),
    ("integer-key", "header map has an integer key", [QSC1, b"\x81\x01\x02"], "bad_header", {}),
    ("nested-33", "an unknown field nested 32 arrays deep: 33 levels with the header map (limit 32)",
     [QSC1, pack({**HELLO, "x_deep": nested(32)})], "bad_header", {}),
    ("nested-key-not-text", "an unknown field holding a map with a binary key: keys are text at any depth",
     [QSC1, pack({**HELLO, "x_extra": {b"k": 1}})], "bad_header", {}),
    ("str-not-utf8", "a str that is not UTF-8 (an unknown field: decoding fails before any field is read)",
     [QSC1, pack({**HELLO, "x_name": "caf"})[:-4] + b"\xa3\xff\xfe\x41"], "bad_header", {}),
    ("time-int64-max-plus-one", "time_ms 2**63 (uint 64): not an int64, so the wrong kind, not a bad value",
     [QSC1, pack({**HELLO, "time_ms": 2**63})], "wrong_type", {}),
    ("status-frames-beyond-int64", "a camera status frames of 2**63: inside a nested map every problem is "
     "bad_value", [QSC1, pack({**STATUS, "cameras": {"cam0": {"state": "ok", "fps": 1.0, "frames": 2**63,
                                                                "dropped": 0}}})], "bad_value", {}),
    ("nested-1025", "an unknown field nested 1024 arrays deep (1025 levels with the header map): past what a "
     "reader must parse to find the id, so the nack's ref is empty",
     [QSC1, _map_with(HELLO, msgpack.packb("x_deep") + b"\x91" * 1024 + b"\x01")], "bad_header", {}),
    ("integer-key-beside-id", "a map key that is an integer beside a valid id: bad_header, and the ref is the id",
     [QSC1, _map_with(HELLO, msgpack.packb(7) + msgpack.packb(1))], "bad_header", {}),
    ("array-key", "a map key that is an array: bad_header, and no generic reader can read the id (ref empty)",
     [QSC1, _map_with(HELLO, msgpack.packb([7]) + msgpack.packb(1))], "bad_header", {}),
    ("header-too-large", "header of 65537 bytes (limit 65536)",
     [QSC1, pack({**HELLO, "x_pad": "a" * (65537 - len(pack({**HELLO, "x_pad": ""})))})],
     "bad_header", {}),
    ("unknown-type", "type no version defines", [QSC1, pack({**HELLO, "type": "video"})], "bad_type", {}),
    ("wrong-direction", "a detector sending an ack to the uploader", [QSC1, pack(ACK)], "bad_type", {}),
    ("type-missing", "header without type", [QSC1, pack(without(HELLO, "type"))], "missing_field", {}),
    ("id-missing", "header without id", [QSC1, pack(without(HELLO, "id"))], "missing_field", {}),
    ("id-path", "id with characters outside A-Z a-z 0-9 _ -", [QSC1, pack({**HELLO, "id": "../etc"})],
     "bad_value", {}),
    ("id-too-long", "id of 65 characters", [QSC1, pack({**HELLO, "id": "a" * 65})], "bad_value", {}),
    ("time-text", "time_ms as text", [QSC1, pack({**HELLO, "time_ms": "1717171717171"})],
     "wrong_type", {}),
    ("time-negative", "time_ms before 1970", [QSC1, pack({**HELLO, "time_ms": -1})], "bad_value",
     {"ref": ID}),
    ("time-past-year-9999", "time_ms 253402300800001, one past the largest Unix ms (10000-01-01T00:00:00Z)",
     [QSC1, pack({**HELLO, "time_ms": p.TIME_MS_MAX + 1})], "bad_value", {}),
    ("v-minor-leading-zero", "header v 1.01: a number other than 0 has no leading zero",
     [QSC1, pack({**HELLO, "v": "1.01"})], "bad_version", {}),
    ("time-beyond-int64", "time_ms as uint 64 2**64-1", [QSC1, pack({**HELLO, "time_ms": 2**64 - 1})],
     "wrong_type", {}),
    ("hello-no-cameras", "hello with an empty camera list", [QSC1, pack({**HELLO, "cameras": []})],
     "bad_value", {}),
    ("snapshot-missing-sha256", "snapshot without sha256", [QSC1, pack(without(SNAPSHOT_MIN, "sha256")),
                                                            JPEG], "missing_field", {}),
    ("snapshot-sha256-uppercase", "sha256 in uppercase hex",
     snap(sha256=SNAPSHOT_MIN["sha256"].upper()), "bad_value", {}),
    ("snapshot-size-bool", "size is true: a boolean is not an integer", snap(size=True), "wrong_type",
     {"ref": ID}),
    ("snapshot-width-float", "width 640.0: a float is not an integer", snap(width=640.0), "wrong_type",
     {"ref": ID}),
    ("snapshot-camera-dotdot", "camera '..' would climb out of the storage folder", snap(camera=".."),
     "bad_value", {}),
    ("snapshot-video-type", "a snapshot's content_type must be image/*", snap(content_type="video/mp4"),
     "bad_value", {}),
    ("snapshot-bad-box", "a motion box with 3 numbers", snap(boxes=[[1, 2, 3]]), "bad_value", {}),
    ("snapshot-no-payload", "snapshot without its payload frame", [QSC1, pack(SNAPSHOT_MIN)], "bad_frames",
     {"ref": ID}),
    ("status-with-payload", "status followed by a payload frame", [QSC1, pack(STATUS), b"x"],
     "bad_frames", {}),
    ("status-camera-no-state", "a camera status without state",
     [QSC1, pack({**STATUS, "cameras": {"cam0": {"fps": 1.0, "frames": 1, "dropped": 0}}})],
     "bad_value", {}),
    ("segment-end-before-start", "end_ms before start_ms", seg(end_ms=SEGMENT["start_ms"] - 1),
     "bad_value", {}),
    ("segment-fps-nan", "fps is NaN", seg(fps=float("nan")), "bad_value", {}),
    ("segment-fps-beyond-int64", "fps as uint 64 2**63: a float field takes any int, so the right kind "
     "and out of range", seg(fps=2**63), "bad_value", {}),
    ("snapshot-type-parameter", "content_type with a parameter: only type/subtype, each 1-63 of a-z 0-9 . + -",
     snap(content_type="image/jpeg;q=1"), "bad_value", {}),
    ("segment-final-int", "final is 1, not a boolean", seg(final=1), "wrong_type", {}),
    ("segment-too-large", "a 112-byte payload where the uploader's limit is 100 bytes", seg(),
     "too_large", {"max_payload": 100}),
    ("segment-size-mismatch", "size says one byte more than the payload", seg(size=len(MP4) + 1),
     "size_mismatch", {}),
    ("segment-sha256-mismatch", "payload changed after hashing: last byte flipped",
     [QSC1, pack(SEGMENT), MP4[:-1] + bytes([MP4[-1] ^ 1])], "sha256_mismatch", {}),
    ("snapshot-conflict", "same id as vector snapshot-minimal, different payload (receiver level: "
     "send snapshot-minimal first; it is acked, this one is not)",
     [QSC1, pack({**SNAPSHOT_MIN, **payload_fields(JPEG[:-2])}), JPEG[:-2]], "conflict",
     {"level": "receiver", "before": "snapshot-minimal"}),
    ("snapshot-not-allowed", "camera 'garage' from a CURVE key allowed only cam0 (receiver level)",
     snap(camera="garage"), "not_allowed", {"level": "receiver", "allowed_cameras": ["cam0"]}),
]


def render_valid(name: str, direction: str, description: str, frames: list[bytes],
                 header: dict[str, Any], is_canonical: bool) -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "sender": direction,
        "canonical": is_canonical,
        "frames": [f.hex() for f in frames],
        "header": header,
        "payload_frame": len(frames) == 3,
    }


def render_invalid(name: str, description: str, frames: list[bytes], code: str,
                   extra: dict[str, Any]) -> dict[str, Any]:
    receiver = "detector" if extra.get("receiver") == "detector" else "uploader"
    return {
        "name": name,
        "description": description,
        "receiver": receiver,
        "level": extra.get("level", "codec"),
        "frames": [f.hex() for f in frames],
        "nack": {"code": code, "retry": p.NACK_CODES[code], "ref": p.readable_ref(frames)},
        **{k: extra[k] for k in ("max_payload", "before", "allowed_cameras") if k in extra},
    }


def expected_files() -> dict[Path, str]:
    files = {}
    for entry in VALID:
        files[HERE / "valid" / f"{entry[0]}.json"] = render_valid(*entry)
    for entry in INVALID:
        files[HERE / "invalid" / f"{entry[0]}.json"] = render_invalid(*entry)
    return {path: json.dumps(doc, indent=2, allow_nan=False) + "\n" for path, doc in files.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify the files; exit 1 if any differs")
    args = parser.parse_args()
    expected = expected_files()
    drift = []
    for path, text in expected.items():
        if args.check:
            if not path.is_file() or path.read_text() != text:
                drift.append(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    for folder in ("valid", "invalid"):
        for path in sorted((HERE / folder).glob("*.json")):
            if path not in expected:
                drift.append(path) if args.check else path.unlink()
    if args.check and drift:
        for path in drift:
            print(f"differs from the generator: {path.relative_to(HERE)}", file=sys.stderr)
        return 1
    print(f"{len(expected)} vectors {'match' if args.check else 'written'} in {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
