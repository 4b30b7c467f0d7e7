"""A destination behind TLS whose certificate the uploader must not trust: self-signed, expired, or made
for another host name, on 127.0.0.1.

    .venv/bin/python bench/outside/tls_destination.py [--native] [--case self-signed|expired|wrong-host]
        [--held-s 30]

The cloud is `kind = "cloudinary"` with `upload_prefix = "https://127.0.0.1:PORT"` (docs/backends.md: a test
server via upload_prefix), served by the project's Upload API fake over TLS with a certificate this script
makes; `local` beside it. docs/reliability.md: a destination's outage delays its own copies only; every
failure is counted and said in `quickcam status`, one line naming the fix, no traceback. Checked: the
local copies keep coming, nothing is stored in the cloud, the cloud's items stay pending (nothing deleted
locally), status and the log say why in words naming the certificate, no secret in the log.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ssl
import sys
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from harness import BASE_TOML, Rig, invariant_failed, show_lines, tracebacks_failed  # noqa: E402
from tests.fakes.cloudinary_server import FakeCloudinary, _CloudinaryHandler  # noqa: E402
from tests.fakes.httpfake import LoopbackServer  # noqa: E402


def certificate(folder: Path, case: str) -> ssl.SSLContext:
    """A server context with a self-signed certificate shaped by ``case``."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "quickcam-outside")])
    host = "other.example" if case == "wrong-host" else "127.0.0.1"
    san = x509.DNSName(host) if case == "wrong-host" else x509.IPAddress(__import__("ipaddress").ip_address(host))
    start, end = (now - dt.timedelta(days=30), now - dt.timedelta(days=1)) if case == "expired" else (
        now - dt.timedelta(days=1), now + dt.timedelta(days=30))
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([san]), critical=False).sign(key, hashes.SHA256()))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return ctx


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--case", choices=("self-signed", "expired", "wrong-host"), default="self-signed")
    ap.add_argument("--held-s", type=float, default=30)
    a = ap.parse_args()
    scratch = Path(f"/tmp/s22o/tls-{a.case}-certs")
    scratch.mkdir(parents=True, exist_ok=True)
    cloud = FakeCloudinary()
    cloud.server = LoopbackServer(_CloudinaryHandler, cloud, ssl_context=certificate(scratch, a.case))
    cloud.start()
    toml = BASE_TOML.replace("[uploader]\n", '[uploader]\ndestinations = ["local", "cloud"]\n') + (
        f'[storage.cloud]\nkind = "cloudinary"\nupload_prefix = "{cloud.upload_prefix}"\n')
    rig = Rig(Path(f"/tmp/s22o/tls-{a.case}{'-native' if a.native else ''}"), toml=toml, native=a.native)
    with open(rig.root / "tokens.env", "a") as tok:
        tok.write(f"CLOUDINARY_URL={cloud.cloudinary_url}\n")
    rig.uploader()
    rig.detector()
    time.sleep(a.held_s)
    rc, st = rig.status()
    print(f"status (rc {rc}):\n{st.strip()[:1800]}")
    rch, hc = rig.status("--healthcheck")
    print(f"healthcheck rc={rch}: {hc.strip()[:300]}")
    fails = 0
    row = next((ln for ln in st.splitlines() if ln.startswith("cloud ")), "")
    said = any(w in st.lower() for w in ("certificate", "tls", "ssl"))
    print(("PASS" if said else "FAIL"), "status names the certificate:", row[:300])
    fails += int(not said)
    lines = rig.grep(r"cloud")
    worded = [ln for ln in lines if "certificate" in ln.lower()]
    fix = [ln for ln in worded if any(w in ln.lower() for w in ("trust", "ca_file", "ca bundle", "cafile", "renew",
                                                                  "requests_ca_bundle", "ssl_cert_file"))]
    print(("PASS" if fix else "FAIL"), "a log line names the certificate and a fix:", (fix or worded or lines)[:1])
    fails += int(not fix)
    show_lines(rig, r"cloud", "lines naming the cloud", shown=4)
    leaked = rig.grep(cloud.api_secret)
    print(("PASS" if not leaked else "FAIL"), "API secret in the log:", len(leaked))
    fails += int(bool(leaked))
    print(("PASS" if not cloud.assets else "FAIL"), "stored in the untrusted cloud:", len(cloud.assets))
    fails += int(bool(cloud.assets))
    rig.stop("detector")
    ok = rig.wait_for(lambda: rig.drained(), 60)
    rig.stop_all()
    cloud.stop()
    fails += invariant_failed(rig, ok) + tracebacks_failed(rig)
    print("FAIL" if fails else "PASS", "checks failed:", fails)
    return int(bool(fails))


if __name__ == "__main__":
    sys.exit(main())
