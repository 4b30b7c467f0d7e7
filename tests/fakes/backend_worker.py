"""Run a back end in a child process and drive it over stdin/stdout, one JSON line each.

Some SDKs read their endpoints from the environment when first imported
(Dropbox: DROPBOX_API_HOST), so a test cannot redirect them once any module in
the test process has imported the SDK. The child starts clean with the fake's
environment; the test keeps full control through ``BackendProcess``, which
implements the Backend protocol and re-raises RetryableError/PermanentError.

Protocol, one JSON object per line:
  -> {"op": "new", "factory": "pkg.module:Class", "options": {...}}
     (with "secrets": {...} it goes through Class.from_config(options, secrets))
  -> {"op": "upload", "path": "/tmp/x.qsc", "key": "cam0/x.qsc"}
  -> {"op": "call", "module": "pkg.module", "function": "name", "args": [...]}
  -> {"op": "method", "name": "list_files", "args": [...]}   (the Reader methods; bytes
     come back as {"bytes": base64}, dataclasses as {"fields": {...}})
  <- {"ok": <result>} or {"error": "RetryableError", "message": "..."}
"""

from __future__ import annotations

import base64
import dataclasses
import importlib
import json
import os
import queue
import subprocess
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

from quickcam.uploader.backends import BackendError, PermanentError, RemoteFile, RetryableError


def _serve() -> None:
    backend: Any = None
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if request["op"] == "new":
                module_name, _, attr = request["factory"].partition(":")
                factory = getattr(importlib.import_module(module_name), attr)
                if "secrets" in request:
                    backend = factory.from_config(request["options"], request["secrets"])
                else:
                    backend = factory(**request["options"])
                reply: dict[str, Any] = {"ok": backend.name}
            elif request["op"] == "upload":
                reply = {"ok": backend.upload(Path(request["path"]), request["key"])}
            elif request["op"] == "method":
                reply = {"ok": _jsonable(getattr(backend, request["name"])(*request["args"]))}
            elif request["op"] == "call":
                function = getattr(importlib.import_module(request["module"]), request["function"])
                reply = {"ok": function(*request["args"])}
            else:
                reply = {"error": "ValueError", "message": f"unknown op {request['op']!r}"}
        except BackendError as exc:
            reply = {"error": type(exc).__name__, "message": str(exc)}
        except Exception as exc:  # reported to the test, which fails on it
            reply = {"error": type(exc).__name__, "message": traceback.format_exc()}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"bytes": base64.b64encode(value).decode()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"fields": dataclasses.asdict(value)}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"bytes"}:
        return base64.b64decode(value["bytes"])
    if isinstance(value, dict) and set(value) == {"fields"}:
        return RemoteFile(**value["fields"])
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


class BackendProcess:
    """A back end living in a child process; ``upload`` behaves like the real one's."""

    def __init__(self, env: dict[str, str], timeout: float = 30.0) -> None:
        self.timeout = timeout
        self.name = "?"
        self._proc = subprocess.Popen(
            [sys.executable, "-u", __file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, **env, "PYTHONPATH": _repo_root()},
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        self._lock = threading.Lock()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self._lines.put(line)

    def request(self, **request: Any) -> Any:
        assert self._proc.stdin is not None
        with self._lock:  # one request at a time: answers come back in order
            self._proc.stdin.write(json.dumps(request) + "\n")
            self._proc.stdin.flush()
            try:
                reply = json.loads(self._lines.get(timeout=self.timeout))
            except queue.Empty:
                raise AssertionError(f"back-end process gave no answer in {self.timeout} s") from None
        if "ok" in reply:
            return reply["ok"]
        if reply["error"] == "RetryableError":
            raise RetryableError(reply["message"])
        if reply["error"] == "PermanentError":
            raise PermanentError(reply["message"])
        raise AssertionError(f"back-end process failed: {reply['message']}")

    def new(self, factory: str, **options: Any) -> BackendProcess:
        self.name = self.request(op="new", factory=factory, options=options)
        return self

    def from_config(
        self, factory: str, options: dict[str, Any], secrets: dict[str, str]
    ) -> BackendProcess:
        self.name = self.request(op="new", factory=factory, options=options, secrets=secrets)
        return self

    def upload(self, local_path: Path, remote_key: str) -> str:
        return self.request(op="upload", path=str(local_path), key=remote_key)

    # The Reader methods, run in the child.
    def list_folders(self, prefix: str) -> list[str]:
        return self.request(op="method", name="list_folders", args=[prefix])

    def list_files(self, prefix: str) -> list[RemoteFile]:
        return _from_json(self.request(op="method", name="list_files", args=[prefix]))

    def read(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        return _from_json(self.request(op="method", name="read", args=[key, start, end]))

    def call(self, module: str, function: str, *args: Any) -> Any:
        return self.request(op="call", module=module, function=function, args=list(args))

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def _repo_root() -> str:
    root = str(Path(__file__).resolve().parents[2])
    existing = os.environ.get("PYTHONPATH")
    return f"{root}{os.pathsep}{existing}" if existing else root


if __name__ == "__main__":
    _serve()
