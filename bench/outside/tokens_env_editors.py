"""tokens.env as other editors and habits write it: Windows line ends, a UTF-8 BOM (Notepad), `export KEY=`
(a shell file sourced), quoted values, spaces around `=`, trailing spaces or tabs, and two a word processor
or a careless paste makes (curly quotes, the value on its own line).

    .venv/bin/python bench/outside/tokens_env_editors.py [--only NAME,...]

README: `quickcam keygen >> tokens.env`; docs/security.md: secrets in tokens.env, never logged. For each
variant the key line `quickcam keygen` printed is rewritten, the uploader and the Python detector run
~10 s on the demo camera, and: either footage is stored and decrypts with the key as keygen printed it
(the variant read as meant), or the uploader stops at once with one line naming the key or tokens.env and its
cause (exit 2, no traceback); never the key's value in any output.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BASE_TOML, Rig, invariant_failed  # noqa: E402

TOML = BASE_TOML.replace("demo_start_s = 3.0", "demo_start_s = 1.0")

VARIANTS = {  # name -> (rewrite of "ENCRYPTION_KEY=<hex>", must it work?)
    "crlf": (lambda k, v: f"{k}={v}\r\n", True),
    "bom": (lambda k, v: f"\ufeff{k}={v}\n", True),
    "export": (lambda k, v: f"export {k}={v}\n", True),
    "double-quoted": (lambda k, v: f'{k}="{v}"\n', True),
    "single-quoted": (lambda k, v: f"{k}='{v}'\n", True),
    "spaces-around": (lambda k, v: f"{k} = {v}\n", True),
    "trailing-space-tab": (lambda k, v: f"{k}={v}  \t\n", True),
    "comment-after": (lambda k, v: f"{k}={v}  # made by keygen\n", True),
    "crlf-bom-export-quoted": (lambda k, v: f'\ufeffexport {k}="{v}"\r\n', True),
    "curly-quotes": (lambda k, v: f"{k}=\u201c{v}\u201d\n", False),  # said: "typographic quotes"
    "value-on-next-line": (lambda k, v: f"{k}=\n{v}\n", False),
}


def run(name: str) -> int:
    rewrite, should_work = VARIANTS[name]
    rig = Rig(Path(f"/tmp/s22o/tokens-{name}"), toml=TOML)
    line = (rig.root / "tokens.env").read_text().strip()
    key, _, value = line.partition("=")
    clean = rig.root / "tokens.clean"
    clean.write_text(line + "\n")
    (rig.root / "tokens.env").write_bytes(rewrite(key, value).encode())
    up = rig.uploader()
    time.sleep(2.5)
    if up.poll() is not None:
        out = rig.logs()
        said = [ln for ln in out.splitlines() if ln.strip() and not ln.startswith("=====")]
        good = up.returncode == 2 and ("tokens.env" in out or "ENCRYPTION_KEY" in out) and "Traceback" not in out and value not in out
        print(f"{name}: uploader stopped, exit {up.returncode}: {said[-1][:260] if said else ''}")
        print(("PASS" if good and not should_work else "FAIL"), name, "(expected to work)" if should_work else "")
        return int(should_work or not good)
    rig.detector()
    time.sleep(8)
    rig.stop("detector")
    drained = rig.wait_for(rig.drained, 30)
    rig.stop_all()
    leaked = value in rig.logs()
    (rig.root / "tokens.env").write_text(clean.read_text())  # decrypt with the key as keygen printed it
    res = invariant_failed(rig, drained)
    ok = not res and not leaked and should_work
    if not should_work:
        print(f"{name}: ran and stored with a key read from a mangled line (expected one line and exit 2)")
    print(("PASS" if ok else "FAIL"), name, "key in the logs:", leaked)
    return int(not ok)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    names = [n for n in VARIANTS if not a.only or n in a.only.split(",")]
    fails = sum(run(n) for n in names)
    print("FAIL" if fails else "PASS", "variants failed:", fails, "of", len(names))
    return int(bool(fails))


if __name__ == "__main__":
    sys.exit(main())
