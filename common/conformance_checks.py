"""What ``quickcam protocol check`` judges: the list of checks, one verdict each, and how it is printed.

Split out of the checker so the rules a detector is held to read as one table,
apart from the stand-in uploader (``conformance_checker``) that exercises them and
the command (``conformance``) that runs it. A check is PASS, FAIL, or NOT
EXERCISED: the detector never reached the step that tests it, which is not a
failure of the rule but not a pass either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgpack

# What a detector must do for every check to get a verdict (printed by --help and by a
# report with checks not exercised).
REQUIREMENTS = (
    "To be checked fully, a detector must, within --timeout: send hello (and repeat it until credit); "
    "then send at least 4 snapshots or segments, one after another (the 1st is withheld until the detector "
    "re-sends it after its ack timeout, the 2nd gets nack busy and must come again, then a pause of "
    "max(3 s, 2 heartbeats), then the rest flow); complete one event (segments 0..final); send status every "
    "heartbeat; and keep running for its ack timeout + 1 s after its first ack. That is about 2 ack timeouts "
    "+ 3 heartbeats + one event: with QUICKCAM_LINK__ACK_TIMEOUT_S=2 and the demo scene, about 25 s."
)


@dataclass
class Check:
    """One rule's verdict: passes counted, the first failures kept for the report."""

    name: str
    what: str
    failures: list[str] = field(default_factory=list)
    passes: int = 0
    note: str = ""

    def ok(self, note: str = "") -> None:
        self.passes += 1
        self.note = note or self.note

    def fail(self, detail: str) -> None:
        if len(self.failures) < 5:
            self.failures.append(detail)
        elif len(self.failures) == 5:
            self.failures.append("(more failures not shown)")

    @property
    def passed(self) -> bool:
        return self.passes > 0 and not self.failures

    @property
    def exercised(self) -> bool:
        return bool(self.passes or self.failures)

    def line(self) -> str:
        if self.failures:
            return f"FAIL  {self.name}: {self.what} -- " + "; ".join(self.failures)
        if not self.passes:
            return f"NOT EXERCISED  {self.name}: {self.what} -- {self.note or 'the detector never reached this step'}"
        return f"PASS  {self.name}: {self.what}{' (' + self.note + ')' if self.note else ''}"


CHECKS = [
    ("hello", "the first message is a valid hello"),
    ("hello-repeat", "hello is repeated while no credit is granted"),
    ("no-send-before-credit", "nothing but hello is sent before the first credit"),
    ("decode", "every message decodes: frames, header, fields, payload size and sha256"),
    ("canonical", "every header is canonical msgpack (sorted keys, shortest forms, float 64)"),
    ("time", "times are Unix milliseconds near this machine's clock"),
    ("unknown-fields", "credit with unknown fields is obeyed (unknown fields ignored)"),
    ("window", "never more unacked messages in flight than the credit window"),
    ("retransmit", "an unacked message is sent again after the ack timeout"),
    ("retransmit-identical", "a message sent again is byte-identical"),
    ("no-resend-after-ack", "an acked message is not sent again"),
    ("nack-retry", "after nack with retry true the message comes again, not in a hot loop"),
    ("pause", "credit 0 stops new messages while heartbeats go on"),
    ("resume", "footage flows again when credit returns"),
    ("heartbeat", "status arrives at least every 1.5 heartbeat intervals"),
    ("payload-content", "payloads look like their content_type (JPEG, MP4)"),
    ("segments", "each event's segments are numbered from 0 with one final, the last"),
]


def canonical_problem(raw: bytes, canonical: bytes) -> str:
    """Say how ``raw`` differs from the canonical bytes of the same header."""
    unsorted: list[str] = []

    def pairs(items: list[tuple[Any, Any]]) -> dict:
        keys = [k for k, _ in items]
        if keys != sorted(keys, key=lambda k: str(k).encode()):
            unsorted.append(", ".join(map(str, keys)))
        return dict(items)

    msgpack.unpackb(raw, object_pairs_hook=pairs, strict_map_key=False)
    if unsorted:
        return f"map keys not in sorted order: {unsorted[0]}"
    at = next((i for i, (a, b) in enumerate(zip(raw, canonical, strict=False)) if a != b),
              min(len(raw), len(canonical)))
    return (f"byte {at} is {raw[at:at + 1].hex() or 'missing'}, canonical is {canonical[at:at + 1].hex()}: "
            "not the shortest form, or a float not written as float 64")
