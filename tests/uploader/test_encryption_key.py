"""Which key the uploader encrypts with (docs/encryption.md, "Configuring the writer")."""

from __future__ import annotations

from pathlib import Path

import pytest

from quickcam.common.config import ConfigError
from quickcam.common.cryptofile import RecipientPrivateKey, RecipientPublicKey, SymmetricKey
from quickcam.uploader.app import encryption_key
from quickcam.uploader.doctor import check_encryption_key


def test_recipient_as_64_hex_characters_is_mode_2_and_wins_over_encryption_key() -> None:
    public = RecipientPrivateKey.generate().public_key()
    key = encryption_key({"ENCRYPTION_RECIPIENT": public.to_hex(), "ENCRYPTION_KEY": SymmetricKey.generate().to_hex()})
    assert isinstance(key, RecipientPublicKey) and key == public


def test_recipient_as_the_pub_file_keygen_wrote(tmp_path: Path) -> None:
    public = RecipientPrivateKey.generate().public_key()
    (tmp_path / "owner.key.pub").write_bytes(public.to_pem())
    assert encryption_key({"ENCRYPTION_RECIPIENT": str(tmp_path / "owner.key.pub")}) == public


def test_a_64_character_recipient_that_is_not_hex_names_the_position() -> None:
    with pytest.raises(ConfigError, match="non-hex character at position 3"):
        encryption_key({"ENCRYPTION_RECIPIENT": "00x" + "0" * 61})


def test_doctor_suggests_keygen_recipient_for_a_bad_recipient() -> None:
    result = check_encryption_key({"ENCRYPTION_RECIPIENT": "/nonexistent/owner.key.pub"})
    assert not result.ok and "quickcam keygen --recipient" in result.fix
    result = check_encryption_key({"ENCRYPTION_KEY": "abcd"})
    assert not result.ok and "--recipient" not in result.fix
