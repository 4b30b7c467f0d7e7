"""Failed-login limits per client behind a reverse proxy: X-Forwarded-For only from trusted proxies."""

from __future__ import annotations

from pathlib import Path

import pytest

from quickcam.common.config import ConfigError, load_config
from tests.detector.console.test_web import PASSWORD, start_console


def _login(base: str, password: str, forwarded_for: str) -> int:
    import httpx2 as httpx

    with httpx.Client(base_url=base, timeout=10) as client:
        return client.post("/login", data={"user": "alice", "password": password},
                           headers={"x-forwarded-for": forwarded_for}).status_code


@pytest.mark.parametrize("trusted", [[], ["127.0.0.0/8"]])
def test_a_locked_out_address_behind_a_trusted_proxy_does_not_lock_out_the_others(
        tmp_path: Path, trusted: list[str]) -> None:
    console = start_console(tmp_path, max_failed_logins=2, trusted_proxies=trusted)
    try:
        for _ in range(2):  # the client's own claim left of what the proxy appended is not believed
            assert _login(console.base, "guess", "198.51.100.7, 192.0.2.1") == 401
        assert _login(console.base, PASSWORD, "198.51.100.8, 192.0.2.1") == 429
        other = _login(console.base, PASSWORD, "192.0.2.2")
    finally:
        console.feeder.stop.set()
        console.server.stop()
    # Trusted: 192.0.2.2 is another client. Not trusted (the default): the header is ignored,
    # every request is the proxy's (127.0.0.1), so a client cannot name itself anew to escape the limit.
    assert other == (303 if trusted else 429)


def test_a_trusted_proxy_that_is_not_an_address_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "quickcam.toml").write_text('[console]\ntrusted_proxies = ["proxy.lan"]\n')
    with pytest.raises(ConfigError, match="'proxy.lan' is not an IP address or network"):
        load_config(tmp_path / "quickcam.toml")
