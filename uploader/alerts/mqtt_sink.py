"""MQTT state and Home Assistant discovery through paho-mqtt.

State, not a queue: every camera's motion, snapshot and status are published
retained, and all of it again on each (re)connect, so a broker that was down
simply gets the current state when it is back. Availability rides on a
last-will (``<prefix>/availability`` = ``offline``) that the broker publishes
when the uploader vanishes. Alerts are also published (not retained) on
``.../alert`` while connected; the durable path for alerts is Apprise. One
raised while the broker is unreachable is not replayed there: it is counted
(``alerts_missed``, shown by ``quickcam status``) and said once an outage.
Topics and payloads: topics.py and docs/alerts.md.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt

from quickcam.common.config import MqttConfig
from quickcam.common.protocol_schema import error_text
from quickcam.uploader.alerts import topics
from quickcam.uploader.alerts.model import Alert, CameraView

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 3.0
BROKER_NAME_MAX = 120  # bytes of host:port shown in a status or a log line


def new_client(config: MqttConfig, secrets: dict[str, str], client_id: str) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
    user = secrets.get("MQTT_USERNAME", "")
    if user:
        client.username_pw_set(user, secrets.get("MQTT_PASSWORD") or None)
    if config.tls:
        client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
    client.connect_timeout = CONNECT_TIMEOUT_S
    return client


def broker_name(config: MqttConfig) -> str:
    """``host:port`` for a status or a log line: one line, bounded (the host is the config's text, of any length)."""
    return error_text(f"{config.host}:{config.port}", BROKER_NAME_MAX)


def describe_connect_error(config: MqttConfig, exc: BaseException) -> str:
    """Why the broker cannot be reached, with the fix, on one bounded line (``error_text``)."""
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return error_text(f"mqtt: cannot reach the broker at {broker_name(config)} ({reason}); check [mqtt] host/port "
                      "and that the broker runs")


def probe(config: MqttConfig, secrets: dict[str, str], timeout_s: float = 5.0) -> str:
    """Connect, publish one test message, disconnect; '' on success, else the problem in one line."""
    client = new_client(config, secrets, f"quickcam-test-{socket.gethostname()}-{time.time_ns() % 10**6}")
    connected = threading.Event()
    refused: list[str] = []

    def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any = None) -> None:
        if reason.is_failure:
            refused.append(str(reason))
        connected.set()

    client.on_connect = on_connect
    try:
        client.connect(config.host, config.port, keepalive=config.keepalive_s)
    except (OSError, ValueError) as exc:
        return describe_connect_error(config, exc)
    client.loop_start()
    try:
        if not connected.wait(timeout_s):
            return f"mqtt: no answer from the broker at {broker_name(config)} within {timeout_s:.0f} s"
        if refused:
            return (f"mqtt: the broker at {broker_name(config)} refused the connection ({refused[0]}); "
                    "check MQTT_USERNAME / MQTT_PASSWORD in tokens.env")
        info = client.publish(f"{config.topic_prefix}/test", b"quickcam alert test", qos=1)
        info.wait_for_publish(timeout_s)
        if not info.is_published():
            return f"mqtt: the broker at {broker_name(config)} did not confirm the test message"
        return ""
    finally:
        client.disconnect()
        client.loop_stop()


class MqttSink:
    def __init__(self, config: MqttConfig, secrets: dict[str, str]) -> None:
        self.config = config
        self.prefix = config.topic_prefix
        self.client = new_client(config, secrets, f"quickcam-uploader-{socket.gethostname()}")
        self.client.will_set(topics.availability_topic(self.prefix), topics.OFFLINE, qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.reconnect_delay_set(1, 30)
        self.lock = threading.Lock()
        self.views: dict[str, CameraView] = {}
        self.connected = False
        self.stopping = False
        self.last_error = ""
        self.published = 0
        self.alerts_missed = 0  # raised while not connected: not published on .../alert (not replayed)
        self._missing = False  # alerts_missed was said in this outage
        self.snapshot_sent: dict[str, int] = {}  # camera -> snapshot_seq last published

    def start(self) -> None:
        """Connect (up to CONNECT_TIMEOUT_S); on failure say so in one line and keep retrying behind."""
        try:
            self.client.connect(self.config.host, self.config.port, keepalive=self.config.keepalive_s)
        except ValueError as exc:  # not a host name at all (too long a label, say): no retry can succeed
            self.last_error = describe_connect_error(self.config, exc)
            log.error("%s; alerts still go to the Apprise targets; not retried (fix [mqtt] host and restart)",
                      self.last_error)
            return  # retried, paho's network thread died of the same error, with a traceback
        except OSError as exc:
            self.last_error = describe_connect_error(self.config, exc)
            log.error("%s; alerts still go to the Apprise targets; retrying in the background", self.last_error)
            self.client.connect_async(self.config.host, self.config.port, keepalive=self.config.keepalive_s)
        self.client.loop_start()

    def stop(self) -> None:
        self.stopping = True
        if self.connected:
            self.client.publish(topics.availability_topic(self.prefix), topics.OFFLINE, qos=1, retain=True)
        self.client.disconnect()
        self.client.loop_stop()

    # -- paho callbacks (its network thread) ------------------------------------
    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any = None) -> None:
        if reason.is_failure:
            self.last_error = error_text(f"mqtt: the broker refused the connection ({reason}); "
                                         "check MQTT_USERNAME/MQTT_PASSWORD")
            log.error(self.last_error)
            return
        self.connected = True
        self.last_error = ""
        if self._missing:
            log.info("mqtt: %d alert(s) raised while the broker was unreachable were not published there so far",
                     self.alerts_missed)
            self._missing = False
        log.info("mqtt: connected to %s:%d; publishing state under %s/", self.config.host, self.config.port,
                 self.prefix)
        self._send(topics.availability_topic(self.prefix), topics.ONLINE, retain=True)
        with self.lock:
            views = list(self.views.values())
        self.snapshot_sent.clear()  # the broker may have lost its retained messages
        for view in views:
            self._publish_view(view, discovery=True)

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any = None) -> None:
        if self.connected and not self.stopping:
            log.warning("mqtt: disconnected from the broker (%s); reconnecting", reason)
        self.connected = False

    # -- called by the alerts thread --------------------------------------------
    def camera(self, view: CameraView) -> None:
        with self.lock:
            new = view.camera not in self.views
            self.views[view.camera] = view
        if self.connected:
            self._publish_view(view, discovery=new)

    def alert(self, alert: Alert) -> None:
        if self.connected:
            self._send(topics.alert_topic(self.prefix, alert), topics.alert_payload(alert), retain=False)
            return
        self.alerts_missed += 1  # MQTT carries state, not a queue: counted, said once an outage
        if not self._missing:
            self._missing = True
            log.warning("mqtt: not connected to the broker; alert %s is not published there, nor any until it "
                        "connects (the Apprise targets are the durable path; counted in quickcam status)",
                        alert.name)

    def _publish_view(self, view: CameraView, discovery: bool) -> None:
        cam = view.camera
        if discovery and self.config.discovery_prefix:
            for topic, payload in topics.discovery(self.prefix, self.config.discovery_prefix, cam,
                                                   self.config.publish_snapshot).items():
                self._send(topic, topics.encode(payload), retain=True)
        self._send(topics.camera_topic(self.prefix, cam, "motion"),
                   topics.MOTION_ON if view.motion else topics.MOTION_OFF, retain=True)
        self._send(topics.camera_topic(self.prefix, cam, "status"), topics.status_payload(view), retain=True)
        if self.config.publish_snapshot and view.snapshot and self.snapshot_sent.get(cam) != view.snapshot_seq:
            self.snapshot_sent[cam] = view.snapshot_seq
            self._send(topics.camera_topic(self.prefix, cam, "snapshot"), view.snapshot, retain=True)

    def _send(self, topic: str, payload: bytes | str, retain: bool) -> None:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        if info.rc == mqtt.MQTT_ERR_SUCCESS:
            self.published += 1

    def status(self) -> dict[str, Any]:
        return {"broker": broker_name(self.config), "connected": self.connected,
                "last_error": self.last_error, "published": self.published, "alerts_missed": self.alerts_missed}
