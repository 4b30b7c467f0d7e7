"""Small config mistakes against the uploader and both detectors: one line naming the fix, no traceback.

    .venv/bin/python bench/outside/config_typos.py [NAME ...]

Each case edits the base config (harness.BASE_TOML) or the environment, starts the process for a
few seconds and prints its exit code, how many lines it wrote and the first of them. A case that
keeps running is stopped with SIGTERM (rc shown as 'ran'). A traceback is flagged.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BASE_TOML, NATIVE, QUICKCAM, Rig  # noqa: E402

# name -> (who, toml edit (old, new) or None, env, extra setup)
CASES: dict[str, tuple[str, tuple[str, str] | None, dict]] = {
    "key-typo": ("det", ('source = "demo"', 'soruce = "demo"'), {}),
    "section-typo": ("det", ("[camera]", "[camrea]"), {}),
    "source-case": ("det", ('source = "demo"', 'source = "Demo"'), {}),
    "segment-str": ("det", ("segment_s = 1.0", 'segment_s = "1.0"'), {}),
    "segment-int": ("det", ("segment_s = 1.0", "segment_s = 1"), {}),
    "fps-str-env": ("det", None, {"QUICKCAM_CAMERA__FPS": "abc"}),
    "env-section-typo": ("det", None, {"QUICKCAM_CAMRA__FPS": "10"}),
    "env-key-typo": ("det", None, {"QUICKCAM_RECORDING__SEGMENT": "10"}),
    "file-missing": ("det", ('source = "demo"', 'source = "file"\npath = "nope.mp4"'), {}),
    "stream-empty-path": ("det", ('source = "demo"', 'source = "stream"'), {}),
    "outbox-bad-path": ("det", ("[recording]", '[recording]\noutbox_dir = "/proc/nope/outbox"'), {}),
    "outbox-is-file": ("det", ("[recording]", '[recording]\noutbox_dir = "quickcam.toml"'), {}),
    "endpoint-bad-dir": ("det", ("[link]", '[link]\nendpoint = "ipc:///nonexistent/dir/up.sock"'), {}),
    "endpoint-bad-port": ("det", ("[link]", '[link]\nendpoint = "tcp://127.0.0.1:99999"\nallow_plain_tcp = true'), {}),
    "endpoint-garbage": ("det", ("[link]", '[link]\nendpoint = "uploader.sock"'), {}),
    "log-level": ("det", None, {"QUICKCAM_LOGGING__LEVEL": "verbose"}),
    "log-file-bad": ("det", None, {"QUICKCAM_LOGGING__FILE": "/nonexistent/run.log"}),
    "dup-key": ("det", ("segment_s = 1.0", "segment_s = 1.0\nsegment_s = 2.0"), {}),
    "two-cams-same-id": ("det", ('[camera]\nid = "cam0"\nsource = "demo"\ndemo_start_s = 3.0\ndemo_gap_s = 4.0',
                                 '[[cameras]]\nid = "a"\nsource = "demo"\n[[cameras]]\nid = "a"\nsource = "demo"'), {}),
    "cam-id-space": ("det", ('id = "cam0"', 'id = "cam 0"'), {}),
    "cam-id-slash": ("det", ('id = "cam0"', 'id = "../cam0"'), {}),
    "up-dest-typo": ("up", ("[uploader]", '[uploader]\ndestinations = ["lcoal"]'), {}),
    "up-dest-empty": ("up", ("[uploader]", "[uploader]\ndestinations = []"), {}),
    "up-local-nopath": ("up", ('path = "storage"', ""), {}),
    "up-local-devnull": ("up", ('path = "storage"', 'path = "/dev/null/x"'), {}),
    "up-fsspec-nodir": ("up", ('[storage.local]\npath = "storage"',
                               '[storage.local]\nkind = "fsspec"\nurl = "file:///nonexistent/deep/x"'), {}),
    "up-fsspec-badproto": ("up", ('[storage.local]\npath = "storage"', '[storage.local]\nkind = "fsspec"\nurl = "nosuch://x/y"'), {}),
    "up-kind-typo": ("up", ('[storage.local]\npath = "storage"', '[storage.local]\nkind = "lcoal"\npath = "storage"'), {}),
    "up-spool-proc": ("up", ("[uploader]", '[uploader]\nspool_dir = "/proc/nope"'), {}),
    "up-no-key": ("up", None, {"ENCRYPTION_KEY": ""}),
    "up-key-short": ("up", None, {"ENCRYPTION_KEY": "00112233"}),
    "up-env-file-missing": ("up", ('env_file = "tokens.env"', 'env_file = "nope.env"'), {}),
    "up-tokens-0644": ("up", None, {}),
    "up-retry-neg": ("up", ("retry_base_s = 0.2", "retry_base_s = -1"), {}),
    "up-max-payload-0": ("up", ("[uploader]", "[uploader]\nmax_payload_mb = 0"), {}),
    "up-spool-max-str": ("up", ("[uploader]", '[uploader]\nspool_max_mb = "big"'), {}),
    "up-local-empty-path": ("up", ('path = "storage"', 'path = ""'), {}),
    "up-remote-folder-dotdot": ("up", ("[uploader]", '[uploader]\nremote_folder = "../outside"'), {}),
    "up-remote-folder-abs": ("up", ("[uploader]", '[uploader]\nremote_folder = "/tmp/s19o/abs-remote"'), {}),
    "det-outbox-empty": ("det", ("[recording]", '[recording]\noutbox_dir = ""'), {}),
    "det-segment-huge": ("det", ("segment_s = 1.0", "segment_s = 100000"), {}),
    "det-preroll-huge": ("det", ("[recording]", "[recording]\npre_roll_s = 3600"), {}),
    "config-missing": ("both", None, {}),
    "config-dir": ("both", None, {}),
}


def run(rig: Rig, argv: list[str], env: dict, secs: float = 6.0) -> tuple[str, list[str]]:
    e = dict(os.environ)
    e.update(env)
    p = subprocess.Popen(argv, cwd=rig.root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=e)
    try:
        out, _ = p.communicate(timeout=secs)
        rc = str(p.returncode)
    except subprocess.TimeoutExpired:
        p.terminate()
        out, _ = p.communicate(timeout=30)
        rc = "ran"
    return rc, out.decode(errors="replace").splitlines()


def main() -> int:
    names = sys.argv[1:] or list(CASES)
    for name in names:
        who, edit, env = CASES[name]
        toml = BASE_TOML
        if edit:
            assert edit[0] in toml, name
            toml = toml.replace(edit[0], edit[1], 1)
        rig = Rig(Path(f"/tmp/s19o/cfg-{name}"), toml=toml)
        cfg = "quickcam.toml"
        if name == "config-missing":
            cfg = "nope.toml"
        if name == "config-dir":
            (rig.root / "cfgdir").mkdir()
            cfg = "cfgdir"
        if name == "up-tokens-0644":
            (rig.root / "tokens.env").chmod(0o644)
        targets = []
        if who in ("det", "both"):
            targets += [("py-det", [QUICKCAM, "detector", "--config", cfg]), ("native", [NATIVE, "--config", cfg])]
        if who in ("up", "both"):
            targets += [("uploader", [QUICKCAM, "uploader", "--config", cfg])]
        for label, argv in targets:
            rc, lines = run(rig, argv, env)
            tb = any("Traceback" in ln or "terminate called" in ln for ln in lines)
            interesting = [ln for ln in lines if any(w in ln.lower() for w in ("error", "warn", "unknown", "quickcam:", "ignored", "not "))]
            print(f"--- {name} [{label}] rc={rc} lines={len(lines)} traceback={tb}")
            for ln in (interesting or lines)[:4]:
                print("    " + ln[:400])
    return 0


if __name__ == "__main__":
    sys.exit(main())
