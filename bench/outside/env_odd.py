"""QUICKCAM_* environment variables with odd values or odd names, as a compose file, a systemd unit's
Environment= or a shell profile gets them wrong: empty values, a section given a value, lists and tables
written as text, booleans as yes/1, a key of a [[cameras]] entry, lowercase or extra underscores, a value
with a newline or bytes that are not UTF-8, a megabyte-long value.

    .venv/bin/python bench/outside/env_odd.py [NAME ...]

quickcam.example.toml: "Every key can also be set from the environment as QUICKCAM_<SECTION>__<KEY>, e.g.
QUICKCAM_CAMERA__INDEX=1 or QUICKCAM_STORAGE__LOCAL__PATH=/mnt/nas". docs/reliability.md: bad input is one
line naming the fix (exit 2), never a traceback; a value taken must work. Each case runs the uploader, the
Python and the native detector (and `quickcam status`) ~6 s on the base config (config_typos.run); flagged:
a traceback, a refusal of more than one line, the two detectors disagreeing (one refuses what the other
runs), a process that runs having said it ignored or could not use the value.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from config_typos import run  # noqa: E402
from harness import BASE_TOML, NATIVE, QUICKCAM, Rig  # noqa: E402

LONG = "x" * 1_000_000
# name -> (who: det|up|all, env)
CASES: dict[str, tuple[str, dict]] = {
    "fps-empty": ("det", {"QUICKCAM_CAMERA__FPS": ""}),
    "source-empty": ("det", {"QUICKCAM_CAMERA__SOURCE": ""}),
    "id-empty": ("det", {"QUICKCAM_CAMERA__ID": ""}),
    "section-scalar": ("det", {"QUICKCAM_CAMERA": "demo"}),
    "section-scalar-up": ("up", {"QUICKCAM_UPLOADER": "x"}),
    "dest-csv": ("up", {"QUICKCAM_UPLOADER__DESTINATIONS": "local"}),
    "dest-json": ("up", {"QUICKCAM_UPLOADER__DESTINATIONS": '["local"]'}),
    "dest-toml-bad": ("up", {"QUICKCAM_UPLOADER__DESTINATIONS": "[local"}),
    "loop-yes": ("det", {"QUICKCAM_CAMERA__LOOP": "yes"}),
    "realtime-0": ("det", {"QUICKCAM_CAMERA__REALTIME": "0"}),
    "faces-TRUE": ("det", {"QUICKCAM_FACES__ENABLED": "TRUE"}),
    "zones-json": ("det", {"QUICKCAM_CAMERA__ZONES__INCLUDE": "[[[0,0],[1,0],[1,1],[0,1]]]"}),
    "zones-garbage": ("det", {"QUICKCAM_CAMERA__ZONES__INCLUDE": "everywhere"}),
    "cameras-0-id": ("det", {"QUICKCAM_CAMERAS__0__ID": "door"}),
    "lowercase": ("det", {"quickcam_camera__fps": "abc"}),
    "triple-underscore": ("det", {"QUICKCAM_CAMERA___FPS": "5"}),
    "trailing-sep": ("det", {"QUICKCAM_CAMERA__": "5"}),
    "prefix-only": ("all", {"QUICKCAM_": "1"}),
    "newline-value": ("det", {"QUICKCAM_CAMERA__ID": "cam0\nsource = \"file\""}),
    "fps-spaces": ("det", {"QUICKCAM_CAMERA__FPS": " 5 "}),
    "fps-comma": ("det", {"QUICKCAM_CAMERA__FPS": "7,5"}),
    "fps-hex": ("det", {"QUICKCAM_CAMERA__FPS": "0x10"}),
    "fps-underscore": ("det", {"QUICKCAM_CAMERA__FPS": "1_5"}),
    "segment-units": ("det", {"QUICKCAM_RECORDING__SEGMENT_S": "2s"}),
    "long-value": ("det", {"QUICKCAM_CAMERA__PATH": LONG}),
    "long-path-up": ("up", {"QUICKCAM_STORAGE__LOCAL__PATH": LONG}),
    "local-path-empty": ("up", {"QUICKCAM_STORAGE__LOCAL__PATH": ""}),
    "new-dest-env": ("up", {"QUICKCAM_STORAGE__NAS__PATH": "nas", "QUICKCAM_UPLOADER__DESTINATIONS": "local,nas"}),
    "endpoint-empty": ("all", {"QUICKCAM_LINK__ENDPOINT": ""}),
    "log-level-lower": ("all", {"QUICKCAM_LOGGING__LEVEL": "debug"}),
    "non-utf8": ("det", {"QUICKCAM_CAMERA__ID": b"cam\xff".decode("utf-8", "surrogateescape")}),
}


def main() -> int:
    names = sys.argv[1:] or list(CASES)
    flagged = 0
    for name in names:
        who, env = CASES[name]
        rig = Rig(Path(f"/tmp/s23o/env-{name}"), toml=BASE_TOML)
        targets = []
        if who in ("det", "all"):
            targets += [("py-det", [QUICKCAM, "detector", "--config", "quickcam.toml"]),
                        ("native", [NATIVE, "--config", "quickcam.toml"])]
        if who in ("up", "all"):
            targets += [("uploader", [QUICKCAM, "uploader", "--config", "quickcam.toml"])]
        targets += [("status", [QUICKCAM, "status", "--config", "quickcam.toml"])]
        rcs = {}
        for label, argv in targets:
            try:
                rc, lines = run(rig, argv, env)
            except (ValueError, OSError) as e:  # an environment the OS itself refuses
                print(f"--- {name} [{label}] not startable: {e}")
                continue
            rcs[label] = rc
            tb = any("Traceback" in ln or "terminate called" in ln for ln in lines)
            errs = [ln for ln in lines if "error" in ln.lower() or "quickcam:" in ln.lower()]
            noted = [ln for ln in lines if any(w in ln.lower() for w in ("error", "warn", "unknown", "ignored", "not "))]
            bad = tb or (rc not in ("ran", "0") and label != "status" and len(lines) > 3)
            flagged += bad
            print(f"--- {name} [{label}] rc={rc} lines={len(lines)} traceback={tb}{'  <-- FLAG' if bad else ''}")
            for ln in (errs or noted or lines)[:3]:
                print("    " + ln[:300])
        if "py-det" in rcs and "native" in rcs and (rcs["py-det"] == "ran") != (rcs["native"] == "ran"):
            print(f"    <-- FLAG the detectors disagree: python {rcs['py-det']}, native {rcs['native']}")
            flagged += 1
    print(f"{flagged} flag(s)")
    return 1 if flagged else 0


if __name__ == "__main__":
    sys.exit(main())
