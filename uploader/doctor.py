"""The uploader's preflight checks for ``quickcam doctor`` (entry point group ``quickcam.checks``).

Encryption key, link security settings, every configured back end (with a tiny
test upload to ``<remote_folder>/.quickcam-doctor``), room for the spool, and
every alert target (a test notification, as ``quickcam alert test``).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from quickcam.common import endpoint as link_endpoint
from quickcam.common.cause_first import cause_then_where
from quickcam.common.config import Config, ConfigError
from quickcam.common.cryptofile import KeyFormatError, Keyring, SymmetricKey
from quickcam.common.doctor import Check, DoctorContext, Result, free_space_result, ok, red
from quickcam.uploader.alerts.check import target_names, test_target
from quickcam.uploader.app import LedgerLockedOut, build_backends, encryption_key
from quickcam.uploader.backends import BackendError

DOCTOR_KEY = ".quickcam-doctor"
PROBE_TEXT = b"quickcam doctor test upload; safe to delete\n"
STATE_MIN_FREE_BYTES = 16 * (1 << 20)
RECIPIENT_FIX = ("where you decrypt: quickcam keygen --recipient owner.key; then set ENCRYPTION_RECIPIENT to "
                 "owner.key.pub (copied to this machine) or its 64 hex characters")
KEYGEN_FIX = "quickcam keygen >> {0} && chmod 600 {0} (keep a copy of it off this machine)"


def checks(context: DoctorContext) -> list[Check]:
    config = context.config
    found = [
        Check("encryption key", lambda: check_encryption_key(context.secrets, config.env_file)),
        Check("link (uploader side)", lambda: check_link_security(config)),
    ]
    for name in config.uploader.destinations:
        found.append(Check(f"storage {name}", lambda name=name: check_backend(config, name, context.secrets),
                           fix_on_timeout=f"check the network and the service behind [storage.{name}]"))
    found += [
        Check("spool disk", lambda: free_space_result("spool disk", config.uploader.spool_dir,
                                                      "uploader.spool_dir")),
        Check("state folder", lambda: free_space_result("state folder", config.uploader.state_dir,
                                                        "uploader.state_dir", STATE_MIN_FREE_BYTES)),
    ]
    for name in target_names(config):  # sends a real test notification, as `quickcam alert test` does
        found.append(Check(f"alert {name}", lambda name=name: check_alert(config, context.secrets, name),
                           fix_on_timeout="check the network and the notification service (quickcam alert test)"))
    return found


def check_alert(config: Config, secrets: dict[str, str], name: str) -> Result:
    result = test_target(config, dict(secrets), name)
    return ok(f"alert {name}", result.detail) if result.ok else red(f"alert {name}", result.detail, result.fix)


def check_encryption_key(secrets: dict[str, str], env_file: Path | None = None) -> Result:
    """The key the uploader encrypts with, by its public id; old keys parse too."""
    name = "encryption key"
    try:
        key = encryption_key(dict(secrets), env_file)
    except ConfigError as exc:
        recipient = bool(secrets.get("ENCRYPTION_RECIPIENT", "").strip())
        return red(name, str(exc), RECIPIENT_FIX if recipient else KEYGEN_FIX.format(env_file or "tokens.env"))
    try:
        Keyring.from_env({k: v for k, v in secrets.items() if k == Keyring.ENV_OLD_KEYS})
    except KeyFormatError as exc:
        return red(name, str(exc), f"correct or remove {Keyring.ENV_OLD_KEYS} in tokens.env")
    if isinstance(key, SymmetricKey):
        return ok(name, f"ENCRYPTION_KEY is valid (key id {key.key_id})")
    return ok(name, f"ENCRYPTION_RECIPIENT is a valid public key (key id {key.key_id}); "
                    "this machine can encrypt but not decrypt")


def check_link_security(config: Config) -> Result:
    """The uploader would start with this [link]: CURVE keys and allow-list, or a safe plain endpoint."""
    name = "link (uploader side)"
    link = config.link
    if link.curve_secret_key_file is not None:
        from quickcam.common.curve import server_keys
        from quickcam.uploader.auth import AllowList

        try:
            server_keys(link)
            assert link.curve_allow_dir is not None  # server_keys checked it
            allowed = AllowList.load(link.curve_allow_dir)
        except ConfigError as exc:
            return red(name, str(exc), "see docs/protocol.md, Security; keys come from quickcam curve-keygen NAME")
        if not len(allowed):
            return red(name, f"CURVE is on but no detector is allowed in {link.curve_allow_dir}",
                       "copy each detector's NAME.key there and list its cameras in allow.toml")
        return ok(name, f"binds {link.endpoint} with CURVE; {len(allowed)} detector key(s) allowed")
    try:
        link_endpoint.check_plain_tcp(link, curve=False)
        link_endpoint.private_folder(link.endpoint)
    except ConfigError as exc:
        return red(name, str(exc), "docs/deploy.md, The link on one machine")
    if link.endpoint.startswith("tcp://"):
        return ok(name, f"binds {link_endpoint.plain_tcp_warning(link, False)}")
    return ok(name, f"binds {link.endpoint} (a private socket: this user on this machine only)")


def check_backend(config: Config, name: str, secrets: dict[str, str]) -> Result:
    """Build back end ``name`` as the uploader would, then upload a few bytes with it."""
    label = f"storage {name}"
    fix = f"check [storage.{name}] in the config and its credentials in tokens.env (docs/backends.md)"
    only = config.model_copy(update={"uploader": config.uploader.model_copy(update={"destinations": [name]})})
    try:
        backend = build_backends(only, dict(secrets))[name]
    except ConfigError as exc:
        return red(label, str(exc), fix)
    remote = f"{config.uploader.remote_folder}/{DOCTOR_KEY}"
    with tempfile.TemporaryDirectory(prefix="quickcam-doctor-") as tmp:
        probe = Path(tmp) / DOCTOR_KEY
        probe.write_bytes(PROBE_TEXT)
        started = time.monotonic()
        try:
            where = backend.upload(probe, remote)
        except LedgerLockedOut as exc:  # not the storage's settings: another program's lock on the ledger
            return red(label, f"test upload not tried: {exc.why}", exc.fix)
        except BackendError as exc:
            return red(label, f"test upload failed: {cause_then_where(str(exc))}", fix)  # as the log's lines
    return ok(label, f"test upload to {where} took {time.monotonic() - started:.2f} s")
