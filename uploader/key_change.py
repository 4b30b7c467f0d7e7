"""Says at start when the encryption key is not the one the footage before was stored with.

`quickcam keygen > tokens.env` run again (`>` for README's `>>`) gives the uploader a new key without a word:
it runs, and everything stored before can be decrypted only with the key just overwritten
(bench/outside/FINDINGS.md #35). The id of the key last used is kept in the state folder (ids are public:
every file's header carries one), and a start with another key, not kept as ENCRYPTION_KEYS_OLD (or a
private key file), is one warning and a line in ``quickcam status`` for this run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from quickcam.common.crypto_keys import Keyring, RecipientPublicKey, SymmetricKey
from quickcam.common.durable import atomic_write

log = logging.getLogger(__name__)

KEY_ID_FILE = "encryption-key-id"


def key_change_note(state_dir: Path, key: SymmetricKey | RecipientPublicKey, secrets: Mapping[str, str]) -> str:
    """The warning said when ``key`` is not the key used before and that one is not kept; else ''. Records ``key``."""
    path = state_dir / KEY_ID_FILE
    try:
        before = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        before = ""
    except (OSError, ValueError):
        return ""  # (a file of another's: not worth a start's failure)
    note = ""
    if before and before != key.key_id and before not in _kept(secrets):
        note = (f"the encryption key (id {key.key_id}) is not the one footage was stored with before (id {before}): "
                "that footage decrypts only with the old key; keep it in tokens.env as ENCRYPTION_KEYS_OLD=<its hex>")
        log.warning("uploader: %s", note)
    if before != key.key_id:
        try:
            with atomic_write(path) as out:
                out.write(key.key_id.encode("ascii") + b"\n")
        except OSError as exc:
            log.warning("uploader: cannot record the encryption key's id in %s (%s)", path, exc.strerror or exc)
    return note


def _kept(secrets: Mapping[str, str]) -> list[str]:
    """Ids of the keys tokens.env keeps for decrypting (ENCRYPTION_KEYS_OLD, private key files)."""
    try:
        return Keyring.from_env(secrets).key_ids
    except (ValueError, OSError):
        return []
