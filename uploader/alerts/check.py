"""``quickcam alert test`` and the doctor's alert lines: one test message per target.

Each configured Apprise target gets a test notification and the MQTT broker a
test message; each gives one line, with the fix when it failed. Never prints
a URL (it holds tokens): targets are named by their ``name`` and variable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from quickcam.common.config import Config
from quickcam.uploader.alerts.apprise_sink import AppriseTarget, DeliveryError, TargetConfigError

MQTT_NAME = "mqtt"


@dataclass(frozen=True)
class TargetResult:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def target_names(config: Config) -> list[str]:
    names = [t.name for t in config.alerts.targets]
    return [*names, MQTT_NAME] if config.mqtt.host else names


def test_target(config: Config, secrets: dict[str, str], name: str) -> TargetResult:
    if name == MQTT_NAME:
        return _test_mqtt(config, secrets)
    target_config = next(t for t in config.alerts.targets if t.name == name)
    try:
        target = AppriseTarget.load(target_config, secrets, config.alerts.timeout_s)
    except TargetConfigError as exc:
        return TargetResult(name, False, str(exc), f"set {target_config.url_env} in tokens.env to a valid Apprise URL")
    started = time.monotonic()
    try:
        target.send("quickcam test", f"Test notification from quickcam for target {name}.", "test", False)
    except DeliveryError as exc:
        return TargetResult(name, False, f"test notification failed: {exc}",
                            f"check the service and the URL in {target_config.url_env} (tokens.env)")
    return TargetResult(name, True, f"test notification accepted in {time.monotonic() - started:.2f} s")


def _test_mqtt(config: Config, secrets: dict[str, str]) -> TargetResult:
    from quickcam.uploader.alerts.mqtt_sink import probe

    problem = probe(config.mqtt, secrets, timeout_s=min(config.alerts.timeout_s, 5.0))
    if problem:
        return TargetResult(MQTT_NAME, False, problem, "start the broker or fix [mqtt] host/port (and MQTT_* in "
                                                       "tokens.env)")
    return TargetResult(MQTT_NAME, True, f"test message published to {config.mqtt.host}:{config.mqtt.port} "
                                         f"on {config.mqtt.topic_prefix}/test")
