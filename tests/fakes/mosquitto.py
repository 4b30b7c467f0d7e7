"""A real Mosquitto broker (Debian's ``mosquitto``) on a free loopback port, and a subscriber.

Not a fake: the broker is started in the foreground with its own config file
(one 127.0.0.1 listener, anonymous clients allowed, no persistence), so the
tests see the retained messages and last-wills a real broker keeps.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from tests.conftest import free_port


def mosquitto_path() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/bin/mosquitto") if Path(p).exists()), None)


def unavailable_reason() -> str | None:
    if mosquitto_path() is None:
        return "mosquitto is not installed (scripts/install_test_tools.sh installs it: apt-get install mosquitto)"
    return None


class Mosquitto:
    def __init__(self, workdir: Path, port: int = 0) -> None:
        self.port = port or free_port()
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                             "log_dest stderr\n")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Mosquitto:
        path = mosquitto_path()
        assert path is not None
        self.proc = subprocess.Popen([path, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30  # a loaded machine may be slow to start it
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"mosquitto exited: {self.proc.stderr.read().decode()[-500:]}") from None
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not listen within 30 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


class Subscriber:
    """Records every message on ``topic`` (retained ones included) with its arrival time."""

    def __init__(self, port: int, topic: str = "#") -> None:
        self.messages: list[tuple[float, str, bytes, bool]] = []  # (time, topic, payload, retained)
        self.changed = threading.Condition()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-sub-{time.time_ns()}")
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self.changed:
            self.messages.append((time.time(), msg.topic, bytes(msg.payload), bool(msg.retain)))
            self.changed.notify_all()

    def last(self, topic: str) -> bytes | None:
        found = [m[2] for m in self.messages if m[1] == topic]
        return found[-1] if found else None

    def wait_for(self, topic: str, payload: bytes | None = None, timeout: float = 10.0) -> bytes:
        """The latest payload on ``topic`` (equal to ``payload`` if given), waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                last = self.last(topic)
                if last is not None and (payload is None or last == payload):
                    return last
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {payload!r} on {topic} within {timeout} s; last: {last!r}")
                self.changed.wait(left)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
