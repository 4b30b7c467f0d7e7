"""Hostile input against a running ``quickcam uploader``: every broken message gets a nack,
one log line and a counter; nothing stops or stalls the uploader or the detectors beside it."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quickcam.common import protocol
from quickcam.common.config import LinkConfig
from quickcam.common.cryptofile import SymmetricKey
from quickcam.detector.link import UploaderLink
from quickcam.detector.outbox import Outbox
from tests.conftest import private_endpoint
from tests.test_curve import Client, Uploader, snapshot, stored_ids
from tests.waiting import wait_until

pytestmark = pytest.mark.one_worker  # its uploader and storm are module fixtures: set up once, on one worker

VECTORS = Path(__file__).resolve().parent / "vectors" / "protocol"
VALID = {p.stem: json.loads(p.read_text()) for p in sorted((VECTORS / "valid").glob("*.json"))}
INVALID = [json.loads(p.read_text()) for p in sorted((VECTORS / "invalid").glob("*.json"))]
DETECTOR_VECTORS = [[bytes.fromhex(f) for f in v["frames"]] for v in VALID.values() if v["sender"] == "detector"]


@pytest.fixture(scope="module")
def uploader(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Uploader]:
    """One uploader for the module: the fuzz test runs thousands of messages at it."""
    root = tmp_path_factory.mktemp("fuzz")
    (root / "tokens.env").write_text(f"ENCRYPTION_KEY={SymmetricKey.generate().to_hex()}\n")
    (root / "tokens.env").chmod(0o600)
    endpoint = private_endpoint(root)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    env |= {"QUICKCAM_LINK__ENDPOINT": endpoint, "QUICKCAM_UPLOADER__RETRY_BASE_S": "0.2"}
    up = Uploader(root, env)
    up.endpoint = endpoint
    try:
        up.wait_for("receiver: listening")
        yield up
        assert up.proc.poll() is None, "the uploader died"
    finally:
        up.stop()


def test_each_invalid_vector_gets_its_nack_code_from_the_running_uploader(uploader: Uploader) -> None:
    client = Client(uploader.endpoint)
    try:
        for vector in INVALID:
            if vector.get("max_payload") or vector.get("allowed_cameras") or vector["receiver"] != "uploader":
                continue  # a limit or a CURVE key this uploader does not have (tests/test_curve.py)
            if "before" in vector:
                first = [bytes.fromhex(f) for f in VALID[vector["before"]]["frames"]]
                assert client.request(first).type == "ack"
            reply = client.request([bytes.fromhex(f) for f in vector["frames"]])
            got = (reply.type, reply.header.get("code"), reply.header.get("retry"), reply.header.get("ref"))
            want = ("nack", vector["nack"]["code"], vector["nack"]["retry"], vector["nack"]["ref"])
            assert got == want, vector["name"]
    finally:
        client.close()


# -- the fuzzer ------------------------------------------------------------------------------

any_value = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.floats(),
                      st.text(max_size=12), st.binary(max_size=12), st.lists(st.integers(0, 9), max_size=4),
                      st.dictionaries(st.text(max_size=4), st.integers(-(2**63), 2**63), max_size=3))


@st.composite
def mutated(draw: st.DrawFn) -> list[bytes]:
    """A detector vector, broken one way: bytes, frames, or one header field."""
    frames = list(draw(st.sampled_from(DETECTOR_VECTORS)))
    how = draw(st.sampled_from(["flip", "truncate", "drop", "duplicate", "extra", "protocol", "field",
                                "delete", "add", "fresh-id"]))
    i = draw(st.integers(0, len(frames) - 1))
    if how == "flip" and frames[i]:
        at = draw(st.integers(0, len(frames[i]) - 1))
        frames[i] = frames[i][:at] + bytes([frames[i][at] ^ draw(st.integers(1, 255))]) + frames[i][at + 1:]
    elif how == "truncate":
        frames[i] = frames[i][:draw(st.integers(0, max(0, len(frames[i]) - 1)))]
    elif how == "drop" and len(frames) > 1:
        del frames[i]
    elif how == "duplicate":
        frames.insert(i, frames[i])
    elif how == "extra":
        frames.append(draw(st.binary(max_size=32)))
    elif how == "protocol":
        frames[0] = draw(st.sampled_from([b"QSC0", b"QSC2", b"QSC9", b"qsc1", b"", b"QSC12"]))
    else:
        header = msgpack.unpackb(frames[1])
        if how == "field":
            header[draw(st.sampled_from(sorted(header)))] = draw(any_value)
        elif how == "delete":
            del header[draw(st.sampled_from(sorted(header)))]
        elif how == "add":
            header[draw(st.text(max_size=10))] = draw(any_value)
        else:  # a valid message with a new id: stored and acked
            header["id"] = protocol.new_message_id()
        frames[1] = msgpack.packb(header, use_bin_type=True)
    return frames


FIELD_NAMES = sorted({f.name for fields in protocol.SCHEMAS.values() for f in fields}
                     | {f.name for f in protocol.COMMON_FIELDS})


@st.composite
def random_headers(draw: st.DrawFn) -> list[bytes]:
    """QSC1, a map of known and unknown names with random values, maybe a payload."""
    header = draw(st.dictionaries(st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=6)), any_value,
                                  max_size=12))
    if draw(st.booleans()):
        header |= {"v": "1.0", "type": draw(st.sampled_from(sorted(protocol.SCHEMAS))), "id": "fuzz"}
    frames = [protocol.PROTOCOL_FRAME, msgpack.packb(header, use_bin_type=True)]
    return frames + draw(st.lists(st.binary(max_size=64), max_size=1))


messages = st.one_of(mutated(), random_headers(), st.lists(st.binary(max_size=80), min_size=1, max_size=5))


@dataclass
class Storm:
    """What the fuzzer sent and got back, and how the real detector beside it fared."""

    sent: int = 0
    replies: Counter[str] = field(default_factory=Counter)
    delivered: list[str] = field(default_factory=list)  # ids the detector beside it committed
    drained: bool = False
    refused: int = 0


@pytest.fixture(scope="module")
def storm(uploader: Uploader, tmp_path_factory: pytest.TempPathFactory) -> Storm:
    """Thousands of hostile messages, once per module, whichever test asks first (no test-order dependence)."""
    result = Storm()
    # A real detector link delivering beside the fuzzer: it must not be stalled.
    outbox = Outbox(tmp_path_factory.mktemp("storm") / "outbox")
    for _ in range(20):
        header, payload = snapshot()
        outbox.commit_bytes(header, payload)
        result.delivered.append(header["id"])
    link = UploaderLink(LinkConfig(endpoint=uploader.endpoint, ack_timeout_s=3, heartbeat_s=0.5), outbox,
                        ["cam0"], camera_status=dict)
    link.start()
    client = Client(uploader.endpoint)

    @settings(max_examples=500, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.lists(messages, min_size=4, max_size=16))
    def fuzz(batch: list[list[bytes]]) -> None:
        for frames in batch:
            client.send(frames)
        for _ in batch:
            reply = client.reply(timeout=10)  # exactly one each, decodable, promptly
            result.replies[f"{reply.type}:{reply.header.get('code', '')}"] += 1
            if reply.type == "nack":
                assert reply.header["code"] in protocol.NACK_CODES
        result.sent += len(batch)
        assert not client.sock.poll(0), "more replies than messages"

    try:
        fuzz()
        result.drained = wait_until(lambda: outbox.depth()[0] == 0, 60)  # generous: a loaded CI machine
        result.refused = link.state.refused
    finally:
        link.stop()
        client.close()
    print(f"fuzz: {result.sent} messages; replies {dict(result.replies)}")
    return result


def test_thousands_of_hostile_messages_get_one_reply_each_while_a_detector_beside_them_delivers(
    uploader: Uploader, storm: Storm,
) -> None:
    assert storm.sent >= 2000, storm.sent
    assert storm.drained, "the detector beside the fuzzer could not deliver its outbox"
    assert set(storm.delivered) <= stored_ids(uploader.root)
    assert storm.refused == 0
    assert storm.replies["nack:internal"] == 0, "a hostile message hit a bug"


def test_each_nack_was_one_log_line_and_one_count(uploader: Uploader, storm: Storm) -> None:
    nacks = {key.split(":")[1]: n for key, n in storm.replies.items() if key.startswith("nack:")}

    def counted() -> dict[str, int]:
        counters = uploader.status()["counters"]
        return {k[len("nack_"):]: v for k, v in counters.items() if k.startswith("nack_")}

    # The invalid-vector test may have drawn nacks too: counts include them. status.json is rewritten
    # about once a second, later on a loaded machine: polled, generously (it returns once true).
    assert wait_until(lambda: all(counted().get(code, 0) >= n for code, n in nacks.items()), 30), counted()

    def logged() -> Counter[str]:
        return Counter(re.findall(r"receiver: nack (\w+) for ", uploader.output()))

    # status.json is written every second or so: a nack of the other tests may be logged before
    # the file that counts it is rewritten. Both must agree once the writer has caught up.
    wait_until(lambda: logged() == Counter(counted()), 30)
    assert logged() == Counter(counted())
    assert "Traceback" not in uploader.output()


def test_after_the_storm_a_valid_detector_still_gets_everything_stored_and_acked(uploader: Uploader,
                                                                                storm: Storm) -> None:
    assert storm.sent
    client = Client(uploader.endpoint)
    try:
        credit = client.hello(["cam0"])
        assert credit.type == "credit" and credit.header["messages"] > 0
        sent = []
        for _ in range(5):
            header, payload = snapshot()
            reply = client.request(protocol.encode(protocol.Message(header, payload)))
            assert (reply.type, reply.header["ref"]) == ("ack", header["id"])
            sent.append(header["id"])
    finally:
        client.close()
    assert wait_until(lambda: set(sent) <= stored_ids(uploader.root), 60)

