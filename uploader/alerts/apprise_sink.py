"""Deliver one alert to one Apprise URL (ntfy, Telegram, e-mail, a webhook, ...).

The URL holds the service's tokens, so it is read from tokens.env or the
environment (the variable ``url_env`` names), never from the TOML, and it is
never logged: Apprise's own logger is kept out of ours (at DEBUG it prints
request headers with tokens), and the failure reasons it reports are passed
through ``redact`` before they reach a log line or the ledger.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote, urlsplit

import apprise
from apprise.attachment.memory import AttachMemory

from quickcam.common.config import AlertTargetConfig
from quickcam.uploader.alerts.model import Alert
from quickcam.uploader.alerts.snapshot import face_crop

# Apprise logs through "apprise"; nothing of it reaches our handlers (see the module docstring).
logging.getLogger("apprise").propagate = False

NOTIFY_TYPES = {"motion": apprise.NotifyType.INFO, "camera_back": apprise.NotifyType.SUCCESS,
                "detector_back": apprise.NotifyType.SUCCESS, "detector_stopped": apprise.NotifyType.INFO,
                "test": apprise.NotifyType.INFO}


class DeliveryError(Exception):
    """A failed delivery, phrased for a person; never contains the URL's secrets."""


class TargetConfigError(Exception):
    """A target that cannot be used as configured (missing variable, malformed URL)."""


HOST_NAME = re.compile(r"^(?=.*[A-Za-z.])[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")  # example.com, 127.0.0.1


def secret_parts(url: str) -> list[str]:
    """The pieces of an Apprise URL that may be secret: everything after the scheme, split on
    separators, except host names and addresses (which error messages need, and which are
    not secret); a bot token in the host position (tgram://TOKEN/...) has no dots, so it counts."""
    rest = url.split("://", 1)[-1]
    parts = {url, rest, unquote(rest)}
    parts.update(p for p in re.split(r"[/:@?&=#,]", unquote(rest)) if len(p) >= 4 and not HOST_NAME.match(p))
    return sorted(parts, key=len, reverse=True)


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class AppriseTarget:
    """One ``[[alerts.targets]]`` entry with its URL loaded."""

    def __init__(self, config: AlertTargetConfig, url: str, timeout_s: float) -> None:
        self.config = config
        self.name = config.name
        self._secrets = secret_parts(url)
        self._apprise = apprise.Apprise()
        if not self._apprise.add(url):
            scheme = urlsplit(url).scheme or "(none)"
            raise TargetConfigError(
                f"alert target {self.name}: {config.url_env} is not a URL Apprise understands (scheme {scheme}://); "
                "fix it in tokens.env (see https://github.com/caronc/apprise/wiki for each service's URL)")
        for plugin in self._apprise:
            plugin.socket_connect_timeout = min(plugin.socket_connect_timeout or timeout_s, timeout_s)
            plugin.socket_read_timeout = min(plugin.socket_read_timeout or timeout_s, timeout_s)
        self.timeout_s = timeout_s

    @classmethod
    def load(cls, config: AlertTargetConfig, secrets: dict[str, str], timeout_s: float) -> AppriseTarget:
        url = secrets.get(config.url_env, "").strip()
        if not url:
            raise TargetConfigError(f"alert target {config.name}: {config.url_env} is not set; put the Apprise URL "
                                    f"in tokens.env as {config.url_env}=ntfy://... (never in the TOML)")
        return cls(config, url, timeout_s)

    def wants(self, alert_name: str) -> bool:
        return alert_name in self.config.alerts

    def send(self, title: str, body: str, name: str, urgent: bool, alert: Alert | None = None) -> None:
        """Deliver now or raise ``DeliveryError``. Pictures go only where ``attach_snapshot`` allows."""
        attach = None
        if alert is not None and alert.snapshot and self.config.attach_snapshot:
            attach = apprise.AppriseAttachment()
            attach.add(AttachMemory(content=alert.snapshot, name=f"{alert.camera}-snapshot.jpg",
                                    mimetype="image/jpeg"))
            face = face_crop(alert.snapshot, alert.faces)
            if face:
                attach.add(AttachMemory(content=face, name=f"{alert.camera}-face.jpg", mimetype="image/jpeg"))
        notify_type = apprise.NotifyType.FAILURE if urgent else NOTIFY_TYPES.get(name, apprise.NotifyType.WARNING)
        result = self._apprise.notify(body=body, title=title, notify_type=notify_type, attach=attach,
                                      timeout=self.timeout_s * 3)
        if not result:
            logs = getattr(result, "logs", None)
            reasons = [entry.message for entry in logs()] if callable(logs) else []
            reason = "; ".join(dict.fromkeys(reasons)) or "the service did not accept the notification"
            raise DeliveryError(redact(reason, self._secrets)[:300])

    def redact(self, text: str) -> str:
        return redact(text, self._secrets)
