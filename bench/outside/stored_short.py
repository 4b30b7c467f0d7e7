"""A cloud destination that answers success but kept less than it was sent (a proxy that cut the body
short, a server that stored part of it): does the uploader count footage stored that is not?

    .venv/bin/python bench/outside/stored_short.py [--native] [--sftp | --local] [--bad 6] [--held-s 40]

The cloud is `kind = "cloudinary"` pointed by `upload_prefix` (docs/backends.md: a test server) at the
project's Upload API fake, told (`halve_next`) to keep only the first half of each of the first `--bad`
uploads and to describe what it kept, as Cloudinary does (`bytes`, MD5 `etag`). `local` beside it. docs/reliability.md:
no footage is ever lost; an upload counts once the destination holds it. Checked: every item the cloud holds
at the end is byte for byte the local copy (the local copies are checked by the harness's invariant);
nothing the uploader counted stored in the cloud is short; the damage is said.

`--sftp`: the cloud is `kind = "fsspec"`, `sftp://` to a real sshd on 127.0.0.1 (tests/fakes/sshd.py) whose
sftp-server keeps only the first 4 KiB of each file written for the first `--cut-s` seconds and answers
every write OK (tests/fakes/short_writes.c preloaded into OpenSSH's sftp-server; a NAS whose disk or quota lies).
`--local`: the only destination is `[storage.local]` (a NAS mount, say), and the same shim is preloaded into the
uploader for the files it writes under storage/ (a network file system that lies about its writes); the
harness's invariant then finds what was counted stored but is short.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from harness import BASE_TOML, Rig, invariant_failed, show_lines, tracebacks_failed  # noqa: E402
from tests.fakes.cloudinary_server import FakeCloudinary  # noqa: E402
from tests.fakes.shims import preload_shim  # noqa: E402
from tests.fakes.sshd import SSHD, Sshd  # noqa: E402

SFTP_SERVER = "/usr/lib/openssh/sftp-server"


def lying_sftp(root: Path) -> tuple[Sshd, Path]:
    """A real sshd whose sftp-server keeps 4 KiB of each .part file while the returned flag file exists.

    The shim is preloaded into OpenSSH's sftp-server as the sftp subsystem (preloaded into sshd itself,
    its pre-auth sandbox kills the session at the shim's first system call)."""
    work = Path(str(root) + "-sshd")
    subprocess.run(["rm", "-rf", str(work)], check=False)
    work.mkdir(parents=True)
    flag = work / "cutting"
    flag.touch()
    sshd = Sshd(work).start()
    sshd.stop()
    config = work / "sshd_config"
    env = (f"LD_PRELOAD={preload_shim('short_writes', work)} QC_SHORT_WRITES_WHEN={flag} "
           "QC_SHORT_WRITES_MATCH=.part QC_SHORT_WRITES_KEEP=4096")
    config.write_text(config.read_text().replace("Subsystem sftp internal-sftp",
                                                 f"Subsystem sftp /usr/bin/env {env} {SFTP_SERVER}"))
    with open(work / "sshd.log", "ab") as log:
        sshd._proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL,
                                      stderr=log)
    time.sleep(1)
    return sshd, flag


def local_lies(a: argparse.Namespace) -> int:
    """Only ``[storage.local]``; the uploader's writes under storage/ past 4 KiB dropped for ``a.cut_s``."""
    rig = Rig(Path(f"/tmp/s22o/short-local{'-native' if a.native else ''}"), native=a.native)
    flag = rig.root / "cutting"
    flag.touch()
    rig.uploader(env={"LD_PRELOAD": str(preload_shim("short_writes", rig.root)), "QC_SHORT_WRITES_WHEN": str(flag),
                      "QC_SHORT_WRITES_MATCH": f"{rig.root}/storage/", "QC_SHORT_WRITES_KEEP": "4096"})
    rig.detector()
    time.sleep(a.cut_s)
    flag.unlink()
    print(f"the storage keeps whole files again after {a.cut_s:.0f} s", flush=True)
    time.sleep(a.held_s)
    rig.stop("detector")
    ok = rig.wait_for(rig.drained, 60)
    time.sleep(5)
    rc, st = rig.status()
    print(f"status (rc {rc}):\n{st.strip()[:1200]}")
    rig.stop_all()
    show_lines(rig, r"failed|FAILED", "lines saying an upload failed", shown=4)
    fails = invariant_failed(rig, ok) + tracebacks_failed(rig)
    print("FAIL" if fails else "PASS", "checks failed:", fails)
    return int(bool(fails))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--bad", type=int, default=6)
    ap.add_argument("--held-s", type=float, default=40)
    ap.add_argument("--sftp", action="store_true")
    ap.add_argument("--local", action="store_true")
    ap.add_argument("--cut-s", type=float, default=10)
    a = ap.parse_args()
    if a.local:
        return local_lies(a)
    root = Path(f"/tmp/s22o/short{'-sftp' if a.sftp else ''}{'-native' if a.native else ''}")
    dests = BASE_TOML.replace("[uploader]\n", '[uploader]\ndestinations = ["local", "cloud"]\n')
    if a.sftp:
        sshd, flag = lying_sftp(root)
        toml = dests + (f'[storage.cloud]\nkind = "fsspec"\nurl = "sftp://{sshd.user}@127.0.0.1:{sshd.port}'
                        f'{root}-remote"\nstorage_options = {{ client_keys = ["{sshd.client_key}"], '
                        f'known_hosts = "{sshd.known_hosts}" }}\n')
    else:
        cloud = FakeCloudinary().start()
        cloud.halve_next = a.bad
        toml = dests + f'[storage.cloud]\nkind = "cloudinary"\nfolder = "cam"\nupload_prefix = "{cloud.upload_prefix}"\n'
    rig = Rig(root, toml=toml, native=a.native)
    if not a.sftp:
        with open(rig.root / "tokens.env", "a") as tok:
            tok.write(f"CLOUDINARY_URL={cloud.cloudinary_url}\n")
    else:
        subprocess.run(["rm", "-rf", f"{root}-remote"], check=False)
    rig.uploader()
    rig.detector()
    if a.sftp:
        time.sleep(a.cut_s)
        flag.unlink()
        print(f"the server keeps whole files again after {a.cut_s:.0f} s", flush=True)
    time.sleep(a.held_s)
    rig.stop("detector")
    ok = rig.wait_for(rig.drained, 60)
    time.sleep(5)  # the cloud's retries (retry_max_s 2)
    rc, st = rig.status()
    print(f"status (rc {rc}):\n{st.strip()[:1500]}")
    rig.stop_all()
    if a.sftp:
        sshd.stop()
        held = {p.name: p.read_bytes() for p in Path(f"{root}-remote").rglob("*.qsc") if "logs" not in p.parts}
        cut = f"4 KiB kept of each file written in the first {a.cut_s:.0f} s"
    else:
        cloud.stop()
        held = {pid.rsplit("/", 1)[-1]: a.data for (rt, pid), a in cloud.assets.items()}
        cut = f"{a.bad - cloud.halve_next}"
    fails = 0
    local = {p.name: p.read_bytes() for p in (rig.root / "storage").rglob("*.qsc") if "logs" not in p.parts}
    short = [k for k, v in held.items() if k in local and v != local[k]]
    missing = [k for k in local if k not in held]
    print(f"cloud holds {len(held)}, local {len(local)}; uploads cut short by the server: {cut}")
    print("FAIL" if short else "PASS", "cloud copies that differ from the local one (counted stored):", len(short),
          short[:3])
    print("FAIL" if missing else "PASS", "local items never in the cloud:", len(missing), missing[:3])
    fails += int(bool(short)) + int(bool(missing))
    show_lines(rig, r"to cloud failed|FAILED", "lines saying the cloud failed or kept other bytes", shown=4)
    fails += invariant_failed(rig, ok) + tracebacks_failed(rig)
    print("FAIL" if fails else "PASS", "checks failed:", fails)
    return int(bool(fails))


if __name__ == "__main__":
    sys.exit(main())
