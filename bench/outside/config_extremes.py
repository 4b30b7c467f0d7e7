"""Numbers at the edge of what TOML allows, as a stranger fuzzing the config would try: `inf`, `nan`,
`-inf`, 1e308, 2**63, a negative zero, in the detector's and the uploader's numeric keys.

    .venv/bin/python bench/outside/config_extremes.py [NAME ...]

TOML 1.0 has `inf` and `nan` floats, and quickcam.example.toml documents each key as a number of
seconds, a share or a count. docs/reliability.md: bad input is one line naming the fix, exit 2,
never a traceback; a value taken must work. Each case starts the process for a few seconds
(config_typos.run); a case is flagged when it traces back, or runs while its own lines say
something went wrong (error lines, a thread that died, the camera never delivering).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from config_typos import run  # noqa: E402
from harness import BASE_TOML, NATIVE, QUICKCAM, Rig  # noqa: E402

# name -> (who, (old, new))
CASES: dict[str, tuple[str, tuple[str, str]]] = {
    "segment-inf": ("det", ("segment_s = 1.0", "segment_s = inf")),
    "segment-nan": ("det", ("segment_s = 1.0", "segment_s = nan")),
    "segment-1e308": ("det", ("segment_s = 1.0", "segment_s = 1e308")),
    "fps-inf": ("det", ("demo_gap_s = 4.0", "demo_gap_s = 4.0\nfps = inf")),
    "fps-1e308": ("det", ("demo_gap_s = 4.0", "demo_gap_s = 4.0\nfps = 1e308")),
    "fps-tiny": ("det", ("demo_gap_s = 4.0", "demo_gap_s = 4.0\nfps = 1e-300")),
    "fps-0.1": ("det", ("demo_gap_s = 4.0", "demo_gap_s = 4.0\nfps = 0.1")),
    "stream-timeout-inf": ("det", ("demo_gap_s = 4.0", "demo_gap_s = 4.0\nstream_timeout_s = inf")),
    "reopen-max-inf": ("det", ("demo_gap_s = 4.0", "demo_gap_s = 4.0\nreopen_max_s = inf")),
    "preroll-inf": ("det", ("[recording]", "[recording]\npre_roll_s = inf")),
    "postroll-1e308": ("det", ("[recording]", "[recording]\npost_roll_s = 1e308")),
    "max-event-inf": ("det", ("[recording]", "[recording]\nmax_event_s = inf")),
    "buffer-max-inf": ("det", ("[recording]", "[recording]\nbuffer_max_s = inf")),
    "outbox-budget-inf": ("det", ("[recording]", "[recording]\noutbox_budget_mb = inf")),
    "width-2e63": ("det", ("demo_gap_s = 4.0", "demo_gap_s = 4.0\nwidth = 9223372036854775807")),
    "heartbeat-inf": ("both", ("heartbeat_s = 0.5", "heartbeat_s = inf")),
    "heartbeat-1e308": ("both", ("heartbeat_s = 0.5", "heartbeat_s = 1e308")),
    "ack-timeout-inf": ("both", ("ack_timeout_s = 3.0", "ack_timeout_s = inf")),
    "ack-timeout-nan": ("both", ("ack_timeout_s = 3.0", "ack_timeout_s = nan")),
    "handshake-inf": ("det", ("[link]", "[link]\nhandshake_timeout_s = inf")),
    "reconnect-max-inf": ("det", ("[link]", "[link]\nreconnect_max_s = inf")),
    "unsent-after-inf": ("det", ("[link]", "[link]\nunsent_after_s = inf")),
    "up-retry-max-inf": ("up", ("retry_max_s = 2.0", "retry_max_s = inf")),
    "up-retry-base-1e308": ("up", ("retry_base_s = 0.2", "retry_base_s = 1e308")),
    "up-spool-max-inf": ("up", ("[uploader]", "[uploader]\nspool_max_mb = inf")),
    "up-max-payload-inf": ("up", ("[uploader]", "[uploader]\nmax_payload_mb = inf")),
    "up-credit-mb-1e308": ("up", ("[uploader]", "[uploader]\ncredit_mb = 1e308")),
    "up-credit-messages-2e63": ("up", ("[uploader]", "[uploader]\ncredit_messages = 9223372036854775807")),
    "up-log-interval-inf": ("up", ("[uploader]", "[uploader]\nlog_upload_interval_s = inf")),
    "up-stop-upload-inf": ("up", ("[uploader]", "[uploader]\nstop_upload_s = inf")),
    "up-refusing-nan": ("up", ("[uploader]", "[uploader]\nrefusing_after_s = nan")),
}

BAD = ("traceback", "terminate called", "level=error", "overflow", "died", "exception")


def main() -> int:
    names = sys.argv[1:] or list(CASES)
    flagged = 0
    for name in names:
        who, (old, new) = CASES[name]
        assert old in BASE_TOML, name
        rig = Rig(Path(f"/tmp/s21o/cfgx-{name}"), toml=BASE_TOML.replace(old, new, 1))
        targets = []
        if who in ("det", "both"):
            targets += [("py-det", [QUICKCAM, "detector", "--config", "quickcam.toml"]),
                        ("native", [NATIVE, "--config", "quickcam.toml"])]
        if who in ("up", "both"):
            targets += [("uploader", [QUICKCAM, "uploader", "--config", "quickcam.toml"])]
        for label, argv in targets:
            rc, lines = run(rig, argv, {}, secs=8.0)
            bad = [ln for ln in lines if any(w in ln.lower() for w in BAD)]
            one_line_refusal = rc == "2" and len(lines) == 1
            ok = one_line_refusal or (rc == "ran" and not bad) or (rc == "0" and not bad)
            flagged += int(not ok)
            print(f"--- {name} [{label}] rc={rc} lines={len(lines)} {'ok' if ok else 'FLAG'}")
            for ln in (bad or lines)[:3]:
                print("    " + ln[:300])
    print("flagged:", flagged)
    return int(bool(flagged))


if __name__ == "__main__":
    sys.exit(main())
