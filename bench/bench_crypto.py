"""Throughput and peak memory of .qsc encryption and decryption, file to file.

Each run happens in a fresh child process, so its peak RSS (``getrusage``) is that of
one encryption or decryption alone, not of this script or of earlier runs. The figure
to watch is the peak against the baseline after imports: streaming must keep it flat
whatever the file size (issue 4 target: >= 1 GB/s, peak RSS < 64 MB for 1 GB).

    .venv/bin/python bench/bench_crypto.py                 # 1024 MiB, mode 1, 5 runs
    .venv/bin/python bench/bench_crypto.py --mb 256 --mode 2 --runs 3

Files live in --dir (default: the system temp folder) and are written through the page
cache without fsync: the figures measure the format, not the disk.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MIB = 1 << 20
KEY_ENV = "BENCH_CRYPTO_KEY"  # keys reach the child by environment, never by argv


def _peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB


def child(op: str, src: Path, dst: Path, mode: int) -> None:
    """One timed operation; prints a JSON line for the parent."""
    from quickcam.common import cryptofile as cf

    secret = os.environ[KEY_ENV]
    baseline = _peak_rss_bytes()
    if mode == 1:
        key = cf.SymmetricKey.from_hex(secret)
        encrypt_to: cf.SymmetricKey | cf.RecipientPublicKey = key
        ring = cf.Keyring([key])
    else:
        private = cf.RecipientPrivateKey.from_hex(secret)
        encrypt_to = private.public_key()
        ring = cf.Keyring([private])
    size = src.stat().st_size
    with src.open("rb") as inp, dst.open("wb") as out:
        started = time.perf_counter()
        if op == "encrypt":
            ctx = cf.Context("bench", "01BENCHBENCHBENCHBENCHBENC", 0, 0, "video/mp4", size)
            cf.encrypt(inp, out, encrypt_to, ctx)
        else:
            cf.decrypt(inp, out, ring)
        out.flush()
        elapsed = time.perf_counter() - started
    print(json.dumps({"seconds": elapsed, "peak": _peak_rss_bytes(), "baseline": baseline}))


def _run_child(op: str, src: Path, dst: Path, mode: int, secret: str) -> dict:
    env = {**os.environ, KEY_ENV: secret}
    args = [sys.executable, __file__, "--child", op, str(src), str(dst), "--mode", str(mode)]
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{op} run failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout)


def _make_input(path: Path, mib: int) -> None:
    block = os.urandom(MIB)  # AES-GCM speed does not depend on the data; the disk might
    with path.open("wb") as out:
        for _ in range(mib):
            out.write(block)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=1024, help="plaintext size in MiB")
    parser.add_argument("--runs", type=int, default=5, help="runs per operation (median kept)")
    parser.add_argument("--mode", type=int, choices=(1, 2), default=1, help="1 symmetric, 2 HPKE")
    parser.add_argument("--dir", type=Path, default=None, help="where the files go")
    parser.add_argument("--child", nargs=3, metavar=("OP", "SRC", "DST"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        op, src, dst = args.child
        child(op, Path(src), Path(dst), args.mode)
        return 0

    from quickcam.common import cryptofile as cf

    secret = os.urandom(32).hex()
    if args.mode == 2:
        secret = cf.RecipientPrivateKey.generate()._key.private_bytes_raw().hex()
    size = args.mb * MIB
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-crypto-") as tmp:
        plain, sealed, opened = Path(tmp, "plain.bin"), Path(tmp, "clip.qsc"), Path(tmp, "out.bin")
        _make_input(plain, args.mb)
        print(
            f"quickcam .qsc: {args.mb} MiB plaintext, mode {args.mode}, {args.runs} runs each, "
            f"file to file in {tmp} (page cache, no fsync), Python {sys.version.split()[0]}"
        )
        for op, src, dst in (("encrypt", plain, sealed), ("decrypt", sealed, opened)):
            runs = [_run_child(op, src, dst, args.mode, secret) for _ in range(args.runs)]
            rates = sorted(size / r["seconds"] / 1e6 for r in runs)
            peak = max(r["peak"] for r in runs) / 1e6
            base = max(r["baseline"] for r in runs) / 1e6
            print(
                f"{op}: median {statistics.median(rates):,.0f} MB/s "
                f"(min {rates[0]:,.0f}, max {rates[-1]:,.0f}); "
                f"peak RSS {peak:.1f} MB (after imports {base:.1f} MB)"
            )
        if opened.stat().st_size != size or _digest(opened) != _digest(plain):
            print("round trip FAILED: decrypted output differs from the input")
            return 1
        print("round trip ok")
    return 0


def _digest(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(MIB):
            h.update(chunk)
    return h.hexdigest()


if __name__ == "__main__":
    sys.exit(main())
