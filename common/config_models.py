"""The configuration's models: every section and key, its default and its checks (pydantic).

Only what a config *is*; reading the file and the environment is ``config.py``'s
job, and turning a validation error into lines for a person ``config_errors.py``'s.
Import these from ``quickcam.common.config``, the one public place.
"""

from __future__ import annotations

import ipaddress
import tomllib
import types
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

# The sections each camera starts from (the top-level ones), its own keys on top.
PER_CAMERA = ("motion", "recording", "faces")


def _is_number(annotation: Any) -> bool:
    """``int``, ``float``, or either or ``None``: a key that takes a number."""
    if get_origin(annotation) in (Union, types.UnionType):
        kinds = [arg for arg in get_args(annotation) if arg is not type(None)]
        return bool(kinds) and all(kind in (int, float) for kind in kinds)
    return annotation in (int, float)


LARGEST_NUMBER = 1e15  # any number above this in the config is a typo; past ~1e299 seconds made the detector trace back


class _Section(BaseModel):
    # inf and nan are TOML floats: `max_event_s = inf` traced back in the detector, `heartbeat_s = inf` looped
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_true_for_a_number(cls, value: Any, info: ValidationInfo) -> Any:
        """``true`` where a number belongs is a mistake, not 1: pydantic's lax mode took ``segment_s = true``
        as a one-second segment (and ``fps = false`` failed later as 0), where the native detector refuses it."""
        field = cls.model_fields.get(info.field_name or "")
        if isinstance(value, bool) and field is not None and _is_number(field.annotation):
            raise PydanticCustomError("bool_not_number", "input should be a number")
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _not_huge(cls, value: Any, info: ValidationInfo) -> Any:
        """A number past ``LARGEST_NUMBER`` is refused: ``heartbeat_s = 1e308`` overflowed to inf in use."""
        field = cls.model_fields.get(info.field_name or "")
        if (field is not None and _is_number(field.annotation) and isinstance(value, int | float)
                and abs(value) > LARGEST_NUMBER):
            raise PydanticCustomError("number_too_large", "input should be at most 1e15")
        return value


Point = tuple[float, float]


class ZonesConfig(_Section):
    """Where motion counts, per camera. Coordinates are fractions of the frame (0..1).

    With no include polygon the whole frame is watched; exclude polygons are
    then cut out. ``mask`` names an image (white = watched, black = ignored)
    used instead of, or together with, the polygons.
    """

    include: list[list[Point]] = Field(default_factory=list)
    exclude: list[list[Point]] = Field(default_factory=list)
    mask: Path | None = None

    @field_validator("include", "exclude")
    @classmethod
    def _polygons(cls, value: list[list[Point]]) -> list[list[Point]]:
        for polygon in value:
            if len(polygon) < 3:
                raise ValueError("a polygon needs at least 3 points")
            if any(not (0.0 <= c <= 1.0) for point in polygon for c in point):
                raise ValueError("polygon points are fractions of the frame, each between 0 and 1")
        return value


class MotionConfig(_Section):
    algorithm: Literal["running_average", "mog2", "knn"] = "running_average"
    detection_width: int = Field(160, ge=32, le=1920)
    min_area_fraction: float = Field(0.002, gt=0, lt=1)
    pixel_threshold: int = Field(15, ge=1, le=255)
    learning_rate: float = Field(0.05, gt=0, le=1)
    trigger_frames: int = Field(2, ge=1, le=100)
    mog2_var_threshold: float = Field(64.0, gt=0)
    knn_dist2_threshold: float = Field(400.0, gt=0)
    global_change_fraction: float = Field(0.6, gt=0, le=1)
    lighting_min_blob_fraction: float = Field(0.08, gt=0, le=1)  # unused (every blob is checked); configs load
    relearn_s: float = Field(1.0, ge=0, le=30)
    dark_threshold: float = Field(10.0, ge=0, le=255)
    dark_interval_s: float | None = Field(None, gt=0)  # opt-in: look only this often in the dark (blinds it)
    dark_pixel_threshold: int | None = Field(None, ge=1, le=255)
    idle_detect_fps: float | None = Field(None, gt=0, le=120)  # opt-in: while nothing moves, look this often
    person_check: bool = False  # motion counts only once OpenCV's people detectors saw a person (person.py)
    person_budget_ms_per_s: float = Field(50.0, gt=0, le=1000)  # the check's CPU (not wall) ms per s of video


class RecordingConfig(_Section):
    outbox_dir: Path = Path("outbox")
    pre_roll_s: float = Field(2.0, ge=0, le=30)
    post_roll_s: float = Field(3.0, ge=0, le=120)
    min_event_s: float = Field(0.0, ge=0, le=600)
    segment_s: float = Field(2.0, gt=0.2, le=60)
    max_event_s: float = Field(600.0, gt=1)
    buffer_max_s: float = Field(20.0, ge=1, le=3600)
    encoder: Literal["h264", "mp4v"] = "h264"
    snapshot_quality: int = Field(85, ge=10, le=100)
    keep_local_copy: bool = False
    outbox_budget_mb: float = Field(2048.0, ge=0)  # footage waiting beyond this: new segments reduced, 0 = no budget
    over_budget_fps: float = Field(1.0, ge=0.1, le=120)


class FacesConfig(_Section):
    enabled: bool = True
    detector: Literal["auto", "haar", "yunet"] = "auto"
    cascade: Path | None = None
    yunet_model: Path | None = None
    budget_ms_per_s: float = Field(30.0, gt=0, le=1000)
    min_size_px: int = Field(24, ge=8)


# Keys that name the camera to watch: written without ``source``, the demo scene (made-up events) ran instead of it.
WATCH_KEYS = ("path", "index", "detect_path")


class _SourceNotSet:
    """``source`` left out of a camera that names what to watch (its keys): refused by ``source``'s check."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys


class CameraConfig(_Section):
    """One camera. Its ``motion``, ``recording`` and ``faces`` start as copies of
    the top-level sections, with this camera's own keys on top."""

    @model_validator(mode="before")
    @classmethod
    def _source_left_out(cls, data: Any) -> Any:
        """A camera with a path (or index, detect_path) and no source is a mistake, not the demo scene."""
        if isinstance(data, dict) and "source" not in data and any(key in data for key in WATCH_KEYS):
            return {**data, "source": _SourceNotSet([key for key in WATCH_KEYS if key in data])}
        return data

    @field_validator("source", mode="before")
    @classmethod
    def _source_set(cls, value: Any) -> Any:
        # Said as the native detector says it (config.cpp read_camera), on the key to set.
        if isinstance(value, _SourceNotSet):
            raise PydanticCustomError("source_not_set", "is not set, but {named} is: the demo scene (made-up events) "
                                      "would run instead of the camera; set source = \"stream\", \"file\" or "
                                      "\"camera\"", {"named": " and ".join(value.keys)})
        return value

    id: str = Field("cam0", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    source: Literal["demo", "camera", "file", "stream"] = "demo"
    index: int = Field(0, ge=0)
    # The video file or stream URL (source = "file" / "stream"); for a USB camera, optionally its device
    # instead of index (a stable name such as /dev/v4l/by-id/usb-046d_HD_Pro_Webcam_C920_...-video-index0).
    path: str = Field("", validate_default=True)
    width: int = Field(640, gt=0, le=7680)
    height: int = Field(480, gt=0, le=4320)
    fps: float = Field(15.0, ge=0.1, le=120)  # (1e-300 made a frame period of inf: a traceback)
    loop: bool = False
    realtime: bool = True
    # Where the demo scene's 30 s script starts (seconds): its walks are at 4-10 s and 18-23 s, so 3 brings
    # the first walker in after 1 s (a quicker look at an event; the tests' scenarios wait less).
    demo_start_s: float = Field(0.0, ge=0, lt=30)
    # The quiet seconds between the demo's walk and its walk back (8: the script above); less moves the walk
    # back sooner (at 10 s + the gap) and shortens the script's period by as much. Tests use it to wait less.
    demo_gap_s: float = Field(8.0, ge=1, le=8)
    # A file's first frame on the wall clock (ISO 8601, e.g. 2026-11-25T21:14:03+01:00); unset: the
    # file's creation time (its container's creation_time, else its mtime minus its length).
    start: datetime | None = None
    # What a USB camera is asked for (Linux): "h264" is recorded as it came, "mjpeg" is watched at reduced
    # scale and re-encoded, "raw" (YUYV...) is converted and re-encoded; "auto" takes the first the camera
    # offers in that order.
    input_format: Literal["auto", "h264", "mjpeg", "raw"] = "auto"
    mjpg: bool = True  # OpenCV's capture (Windows, macOS, and raw video on Linux): ask for MJPG
    reopen_max_s: float = Field(30.0, gt=0, le=3600)
    # A stream (source = "stream") that takes longer than this to open, or sends no video packet for this long,
    # is lost and reopened (seconds): longer for a camera on a link that stalls, shorter to hear of a dead one sooner.
    stream_timeout_s: int = Field(10, ge=1, le=300)
    # A damaged stream's streak (detector/damaged_packets.py) ends at the first clean keyframe this many seconds
    # (footage time) after its last damaged packet: damaged packets closer together are one streak, one warning,
    # the camera degraded until it ends. Without keyframes, pictures after a damaged packet wait this long to be
    # analysed again.
    damaged_clear_s: int = Field(10, ge=1, le=60)
    # How events are recorded: "passthrough" remuxes the camera's own H.264/H.265 packets (file and stream
    # sources; no decode, no encode), "reencode" encodes decoded frames again, "auto" passes through
    # whatever can be and re-encodes the rest (the demo, USB cameras, other codecs), saying why in the log.
    record: Literal["auto", "passthrough", "reencode"] = "auto"
    # A stream for detection only (a camera's low-resolution substream) while ``path`` is recorded.
    detect_path: str = ""
    # Keyframes further apart than this: the stream is re-encoded (pre-roll and segments wait for keyframes).
    max_gop_s: float = Field(10.0, gt=0, le=60)
    # Opt-in: H.264/H.265 frames for detection are decoded without the deblocking filter (10-20 % less
    # decoding CPU); snapshots are decoded again in full (detector/redecode.py; docs/benchmarks.md 12d).
    fast_decode: bool = False
    # Opt-in low power: while nothing moves, no event runs and it is not dark, only keyframes are decoded for
    # detection (one look a GOP); every frame again from the first look that sees motion (detector/idle_keyframes.py).
    idle_keyframes_only: bool = False
    # Opt-in low power while recording (live streams recorded by passthrough): once an event's onset snapshot is
    # taken, only keyframes are decoded and looked at while they show motion (a look without motion, the dark and a
    # face being confirmed bring every frame back); the recording stays every packet (docs/benchmarks.md 12d).
    event_keyframes_only: bool = False
    zones: ZonesConfig = ZonesConfig()
    motion: MotionConfig = MotionConfig()
    recording: RecordingConfig = RecordingConfig()
    faces: FacesConfig = FacesConfig()

    @field_validator("id")
    @classmethod
    def _id_the_protocol_takes(cls, value: str) -> str:
        # The pattern lets "." and ".." through, which the uploader refuses (common/protocol_schema.py): the link
        # failed on every hello, and the footage stayed in the outbox for good.
        if value in (".", ".."):
            raise PydanticCustomError("camera_id", "must be 1-64 of A-Z a-z 0-9 _ . - and not . or .. (the "
                                      "uploader refuses those)")
        return value

    @field_validator("path")
    @classmethod
    def _path_for_file_and_stream(cls, value: str, info: ValidationInfo) -> str:
        source = info.data.get("source")
        if source in ("file", "stream") and not value.strip():
            what = "video file" if source == "file" else "stream URL (rtsp://...)"
            raise ValueError(f'is empty, but source = "{source}" needs one: set path to the {what}')
        return value

    @field_validator("detect_path")
    @classmethod
    def _detect_path_for_file_and_stream(cls, value: str, info: ValidationInfo) -> str:
        source = info.data.get("source")
        if value.strip() and source not in ("file", "stream"):
            raise ValueError(f'is set, but source = "{source}" has no substream: remove detect_path, or use '
                             'source = "stream" (or "file") with path = the main stream')
        return value


class LinkConfig(_Section):
    # One machine: a Unix socket in a folder only this user can enter (common/endpoint.py).
    # tcp:// needs CURVE below, or allow_plain_tcp (any program could then pose as either side).
    endpoint: str = "ipc://link/uploader.sock"
    ack_timeout_s: float = Field(10.0, gt=0)
    heartbeat_s: float = Field(2.0, gt=0)
    # The detector's longest pause between tries to reach an uploader that is not there (ZeroMQ's reconnect
    # interval doubles from 0.1 s up to this): how long footage may wait after the uploader is back.
    reconnect_max_s: float = Field(5.0, ge=0.1, le=60)
    # How long the detector waits for an uploader that accepted the connection to answer its handshake (ZeroMQ's
    # ZMQ_HANDSHAKE_IVL), and for a connection to open at all, before it says "no answer from the uploader":
    # longer for a slow or lossy network, shorter to hear of a frozen uploader sooner. Over 5 s: a handshake failing
    # sooner than that is taken for a refused one (a key problem).
    handshake_timeout_s: float = Field(30.0, ge=6, le=600)
    # The detector's health check fails once footage has waited this long in its outbox with the link down
    # (common/health.py): then it sits on the camera machine, which the intruder can take. Twice the longest
    # reconnect interval, so an uploader's restart never trips it.
    unsent_after_s: float = Field(120.0, gt=0)
    allow_plain_tcp: bool = False
    # CurveZMQ (docs/protocol.md, "Security"): set curve_secret_key_file to turn it on.
    curve_secret_key_file: Path | None = None  # this process's NAME.key_secret
    curve_server_public_key_file: Path | None = None  # detector: the uploader's NAME.key
    curve_allow_dir: Path | None = None  # uploader: allowed detectors' keys + allow.toml

    @field_validator("endpoint")
    @classmethod
    def _zmq_endpoint(cls, value: str) -> str:
        if not value.startswith(("tcp://", "ipc://", "inproc://")):
            raise ValueError("must start with tcp://, ipc:// or inproc://")
        return value


class UploaderConfig(_Section):
    spool_dir: Path = Path("spool")
    state_dir: Path = Path("state")
    remote_folder: str = Field("webcam_captures", min_length=1)
    destinations: list[str] = Field(default_factory=lambda: ["local"], min_length=1)
    max_payload_mb: float = Field(64.0, gt=0)
    credit_messages: int = Field(16, ge=1)
    credit_mb: float = Field(64.0, gt=0)
    spool_max_mb: float = Field(2048.0, gt=0)
    retry_base_s: float = Field(1.0, gt=0)
    retry_max_s: float = Field(60.0, gt=0)
    log_upload_interval_s: float = Field(3600.0, gt=0)
    # How long a stop (SIGTERM) gives the uploads due then, and one in flight, before the uploader exits (the
    # rest resume at the next start, from the spool): under a service manager's stop timeout.
    stop_upload_s: float = Field(10.0, ge=0, le=600)
    # Footage refused for lack of room (the spool full, its disk low) this long fails the health check: it waits on
    # the camera machine, which the intruder can take (docs/deploy.md, Health checks).
    refusing_after_s: float = Field(60.0, gt=0)

    @field_validator("remote_folder")
    @classmethod
    def _inside_the_storage(cls, value: str) -> str:
        # Taken at start, then every upload failed for good: each back end refuses a key outside its storage.
        if value.startswith(("/", "\\")) or ".." in value.replace("\\", "/").split("/"):
            raise PydanticCustomError("remote_folder", "must be a folder inside the storage, not absolute and "
                                      "without '..' (e.g. \"webcam_captures\" or \"home/cam1\"); set it to one")
        return value

    @field_validator("destinations", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        """From the environment: ``local,nas``, or the config file's own ``["local", "nas"]``.

        The second was taken as one name (``storage.["local"]: unknown storage back end '["local"]'``), naming
        neither the variable nor the way to write it (bench/outside/FINDINGS.md #53, env_odd.py).
        """
        if isinstance(value, str) and value.strip().startswith("["):
            try:
                value = tomllib.loads(f"v = {value}")["v"]
            except tomllib.TOMLDecodeError:
                raise PydanticCustomError("destinations", "write the names as local,nas or as a TOML list "
                                          "[\"local\", \"nas\"]") from None
            return value
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


ALERT_NAMES = (
    "motion", "detector_silent", "detector_back", "camera_lost", "camera_back",
    "storage_failing", "backlog", "disk_full", "camera_stopped", "detector_stopped", "view_blocked", "test",
)
AlertName = Literal[
    "motion", "detector_silent", "detector_back", "camera_lost", "camera_back",
    "storage_failing", "backlog", "disk_full", "camera_stopped", "detector_stopped", "view_blocked", "test",
]


class AlertTargetConfig(_Section):
    """One Apprise destination. The URL itself (it holds tokens) lives in tokens.env
    or the environment, under the variable named by ``url_env``."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    url_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
    alerts: list[AlertName] = Field(default_factory=lambda: [n for n in ALERT_NAMES if n != "test"])
    # Off by default: a third-party service (Telegram, Pushover, ntfy.sh...) would hold an
    # unencrypted picture of your home, outside the encryption that protects the footage.
    attach_snapshot: bool = False


class AlertsConfig(_Section):
    targets: list[AlertTargetConfig] = Field(default_factory=list)
    cooldown_s: float = Field(60.0, ge=0)  # per camera: motion alerts closer than this are held back
    quiet_hours: str = Field("", pattern=r"^$|^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$")
    quiet_alerts: list[AlertName] = Field(default_factory=lambda: ["motion"])  # held back in quiet hours
    silent_after_s: float = Field(0.0, ge=0)  # 0 = 3 x the detector's heartbeat
    storage_failing_after_s: float = Field(600.0, gt=0)
    backlog_after_s: float = Field(900.0, gt=0)
    retry_base_s: float = Field(2.0, gt=0)
    retry_max_s: float = Field(300.0, gt=0)
    give_up_after_s: float = Field(86400.0, gt=0)  # an alert still undelivered after this is marked failed
    timeout_s: float = Field(10.0, gt=0)  # per delivery attempt

    @field_validator("targets")
    @classmethod
    def _unique_target_names(cls, targets: list[AlertTargetConfig]) -> list[AlertTargetConfig]:
        # On the field, so the error names its key (a model check said "alerts: value error, ...").
        names = [t.name for t in targets]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise PydanticCustomError("unique_names", "target names must be unique; repeated: {repeated}; give "
                                      "each [[alerts.targets]] its own name", {"repeated": ", ".join(duplicates)})
        return targets


class MqttConfig(_Section):
    """MQTT state and Home Assistant discovery; off while ``host`` is empty.
    Credentials come from MQTT_USERNAME / MQTT_PASSWORD in tokens.env."""

    host: str = ""
    port: int = Field(1883, ge=1, le=65535)
    tls: bool = False
    topic_prefix: str = Field("quickcam", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    discovery_prefix: str = Field("homeassistant", pattern=r"^$|^[A-Za-z0-9_-]{1,64}$")  # "" = no discovery
    publish_snapshot: bool = True  # the JPEG goes to your own broker, retained
    keepalive_s: int = Field(30, ge=5, le=3600)
class ConsoleConfig(_Section):
    """The detector's web console (live view, zone editor): off unless ``listen`` is set.

    On a loopback address a token printed at start opens it (as Jupyter does);
    anywhere else a password from ``password_file`` is required, and TLS from
    ``tls_cert``/``tls_key`` unless ``allow_plain_http`` says a reverse proxy on
    this host terminates TLS (docs/console.md).
    """

    listen: str = ""  # "127.0.0.1:8765", "[::1]:8765", "0.0.0.0:8765" (port 0: any free one); "" = off
    password_file: Path = Path("console.passwd")  # written by `quickcam console-password`
    tls_cert: Path | None = None
    tls_key: Path | None = None
    allow_plain_http: bool = False  # off loopback without TLS: only behind a TLS reverse proxy
    session_s: float = Field(8 * 3600.0, gt=0, le=30 * 86400)
    max_failed_logins: int = Field(5, ge=1, le=1000)  # per client address, within failed_login_window_s
    failed_login_window_s: float = Field(300.0, gt=0)
    view_width: int = Field(640, ge=64, le=3840)  # live view is shrunk to at most this width
    view_fps: float = Field(5.0, gt=0, le=30)  # and sent at most this often
    view_quality: int = Field(70, ge=10, le=100)  # JPEG quality of the live view
    # Reverse proxies whose X-Forwarded-For names the client (addresses or networks); none by default
    trusted_proxies: list[str] = Field(default_factory=list, max_length=64)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network (e.g. \"127.0.0.1\" or "
                                 "\"10.0.0.0/8\")") from None
        return value

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        if value:
            host, sep, port = value.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
                raise ValueError('must be "host:port", e.g. "127.0.0.1:8765" (or empty for no console)')
        return value

    @model_validator(mode="after")
    def _cert_and_key(self) -> ConsoleConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together: set both, or neither")
        return self


MIN_DETECT_FPS = 2.0  # the lowest detection rate low power may use (figures: docs/console.md)


class LowPowerConfig(_Section):
    """Lower the detection rate on battery or above a CPU budget (docs/console.md, "Low power")."""

    enabled: bool = True
    # Detection rates, one step at a time: the camera's own rate, then these. The last is the
    # floor: at 2 fps 63/65 walkers of the held-out corpus are caught, below it the losses grow
    # quickly (docs/console.md has the figures).
    steps_fps: list[float] = Field(default_factory=lambda: [5.0, 2.0], min_length=1, max_length=8)
    check_s: float = Field(5.0, gt=0, le=600)  # how often battery and CPU are read
    low_battery_percent: float = Field(30.0, ge=0, le=100)  # on battery below this: the lowest step
    cpu_budget_percent: float = Field(0.0, ge=0, le=6400)  # detector CPU (% of one core); 0 = no budget

    @field_validator("steps_fps")
    @classmethod
    def _falling_and_above_floor(cls, value: list[float]) -> list[float]:
        if any(b >= a for a, b in zip(value, value[1:], strict=False)):
            raise ValueError("steps must fall, e.g. [5.0, 2.0]")
        if min(value) < MIN_DETECT_FPS:
            raise ValueError(f"below {MIN_DETECT_FPS} fps a person walking through can be missed "
                             "(docs/console.md); use a higher last step")
        return value


class LoggingConfig(_Section):
    file: Path = Path("run.log")
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


MAX_CAMERAS = 64  # the protocol's hello carries 1 to 64 camera ids (docs/protocol.md)


class Config(_Section):
    env_file: Path = Path("tokens.env")
    camera: CameraConfig = CameraConfig()
    # Several cameras: [[cameras]] entries. Without any, the single [camera] is used.
    cameras: list[CameraConfig] = Field(default_factory=list)
    motion: MotionConfig = MotionConfig()
    recording: RecordingConfig = RecordingConfig()
    faces: FacesConfig = FacesConfig()
    link: LinkConfig = LinkConfig()
    uploader: UploaderConfig = UploaderConfig()
    logging: LoggingConfig = LoggingConfig()
    alerts: AlertsConfig = AlertsConfig()
    mqtt: MqttConfig = MqttConfig()
    console: ConsoleConfig = ConsoleConfig()
    low_power: LowPowerConfig = LowPowerConfig()
    # Options per storage back end, e.g. [storage.local] path = "storage".
    storage: dict[str, dict[str, Any]] = Field(
        default_factory=lambda: {"local": {"path": "storage"}}
    )

    @model_validator(mode="before")
    @classmethod
    def _cameras_inherit_shared_sections(cls, data: Any) -> Any:
        """Give each camera the top-level [motion]/[recording]/[faces], its own keys on top."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        shared = {name: data.get(name) or {} for name in PER_CAMERA}
        if not all(isinstance(section, dict) for section in shared.values()):
            return data  # let field validation report the bad section

        def resolve(entry: Any) -> Any:
            if not isinstance(entry, dict):
                return entry
            entry = dict(entry)
            for name, section in shared.items():
                own = entry.get(name) or {}
                if isinstance(own, dict):
                    entry[name] = {**section, **own}
            return entry

        data["camera"] = resolve(data.get("camera") or {})
        if isinstance(data.get("cameras"), list):
            data["cameras"] = [resolve(entry) for entry in data["cameras"]]
        return data

    @model_validator(mode="after")
    def _unique_camera_ids(self) -> Config:
        ids = [cam.id for cam in self.cameras]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            # The model's own check has no key: it names it, as the native detector does (it said "config error: :
            # value error, camera ids ...").
            repeated = ", ".join(duplicates)
            raise PydanticCustomError("unique_ids", f"cameras: camera ids must be unique; repeated: {repeated}")
        if len(ids) > MAX_CAMERAS:  # taken, the uploader refused every hello: nothing left the outbox
            raise PydanticCustomError("too_many", f"cameras: at most {MAX_CAMERAS} per detector, {len(ids)} given "
                                      "(a hello lists 1 to 64 camera ids); run a second detector for the rest")
        return self

    def camera_list(self) -> list[CameraConfig]:
        """The cameras to run: the [[cameras]] entries, or the single [camera]."""
        return list(self.cameras) or [self.camera]
