"""Asking a Linux video device what it is and what it offers (V4L2 ioctls), before opening it with PyAV.

A USB camera lists its pixel formats: ``H264`` (UVC H.264 cameras, e.g. the
Logitech C920 class), ``MJPG``/``JPEG`` (most webcams), and uncompressed ones
(``YUYV``, ``NV12``...). Which one is read decides what recording costs: H.264
is passed through as it came, MJPEG is watched at reduced scale and
re-encoded, raw is converted and re-encoded (``choose_input``). The same
questions answer why a device cannot be used (``device_error``): a UVC
camera's second node carries only metadata, another program holds it, the
user is not in the ``video`` group.

Three ioctls, by their numbers from ``linux/videodev2.h`` (no dependency):
``VIDIOC_QUERYCAP``, ``VIDIOC_ENUM_FMT`` and ``VIDIOC_S_CTRL``.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
from dataclasses import dataclass

from quickcam.detector.closed_folder import closed_folder, folder_fix

VIDIOC_QUERYCAP = 0x80685600  # _IOR('V', 0, struct v4l2_capability): 104 bytes
VIDIOC_ENUM_FMT = 0xC0405602  # _IOWR('V', 2, struct v4l2_fmtdesc): 64 bytes
VIDIOC_S_CTRL = 0xC008561C  # _IOWR('V', 28, struct v4l2_control): 8 bytes
CAP_VIDEO_CAPTURE = 0x00000001
CAP_DEVICE_CAPS = 0x80000000
BUF_TYPE_VIDEO_CAPTURE = 1
CID_H264_I_PERIOD = 0x00990A66  # V4L2_CID_MPEG_VIDEO_H264_I_PERIOD: frames between keyframes

COMPRESSED = {"H264": "h264", "MJPG": "mjpeg", "JPEG": "mjpeg"}  # V4L2 fourcc -> FFmpeg's input_format
PREFERENCE = ("h264", "mjpeg", "raw")  # what "auto" picks, best first


@dataclass(frozen=True)
class Device:
    """What a video device says about itself."""

    card: str  # e.g. "HD Pro Webcam C920"
    driver: str  # e.g. "uvcvideo"
    capture: bool  # a video capture node (a UVC camera's metadata node is not)
    formats: tuple[str, ...]  # V4L2 fourccs, in the device's order, e.g. ("YUYV", "H264", "MJPG")


class DeviceError(Exception):
    """A device that cannot be used, phrased with the fix (one line)."""


def query(device: str, name: str | None = None) -> Device:
    """The device's name, whether it captures video, and its pixel formats; ``DeviceError`` says why not
    (calling the device ``name``, e.g. "/dev/video0 (camera index 0)")."""
    try:
        fd = os.open(device, os.O_RDWR | os.O_NONBLOCK)
    except OSError as exc:
        raise DeviceError(device_error(name or device, exc, device)) from None
    try:
        try:
            caps = bytearray(104)
            fcntl.ioctl(fd, VIDIOC_QUERYCAP, caps)
        except OSError as exc:
            raise DeviceError(device_error(name or device, exc, device)) from None
        driver, card = (_text(caps[0:16]), _text(caps[16:48]))
        capabilities, device_caps = struct.unpack_from("<II", caps, 84)
        own = device_caps if capabilities & CAP_DEVICE_CAPS else capabilities
        formats: list[str] = []
        for index in range(64):
            desc = bytearray(struct.pack("<II", index, BUF_TYPE_VIDEO_CAPTURE) + bytes(56))
            try:
                fcntl.ioctl(fd, VIDIOC_ENUM_FMT, desc)
            except OSError:  # EINVAL: no more formats
                break
            formats.append(fourcc(struct.unpack_from("<I", desc, 44)[0]))
        return Device(card, driver, bool(own & CAP_VIDEO_CAPTURE), tuple(formats))
    finally:
        os.close(fd)


def fourcc(code: int) -> str:
    """A V4L2 pixel format code as its four letters (``0x34363248`` -> ``"H264"``)."""
    return "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4)).strip("\x00 ")


def _text(raw: bytes | bytearray) -> str:
    return bytes(raw).split(b"\x00", 1)[0].decode("utf-8", "replace")


def choose_input(device: str, formats: tuple[str, ...], wanted: str) -> str:
    """``h264``, ``mjpeg`` or ``raw``: ``wanted`` if the device offers it, else (``auto``) the best it offers.

    ``DeviceError`` names what the device does offer when ``wanted`` is not among it.
    """
    offered = [COMPRESSED.get(code, "raw") for code in formats]
    if wanted == "auto":
        choice = next((kind for kind in PREFERENCE if kind in offered), None)
        if choice is None:
            raise DeviceError(f"{device} offers no video format; check it with `v4l2-ctl -d {device} "
                              "--list-formats-ext` (a UVC camera's second /dev/video node carries only metadata)")
        return choice
    if wanted not in offered:
        listed = ", ".join(formats) or "none"
        better = next((kind for kind in PREFERENCE if kind in offered), None)
        fix = f'set [camera] input_format = "{better}" (or "auto")' if better else "use another device"
        raise DeviceError(f"{device} offers no {wanted.upper() if wanted != 'raw' else 'uncompressed'} video "
                          f"(it offers: {listed}); {fix}")
    return wanted


def request_keyframe_period(device: str, frames: int) -> bool:
    """Ask the camera for a keyframe every ``frames`` frames; False when it has no such control.

    Only cameras whose driver maps the H.264 encoder's keyframe interval to the
    standard control have it (UVC 1.5 cameras may; the C920's older H.264 is set
    through a vendor extension unit that this does not speak).
    """
    try:
        fd = os.open(device, os.O_RDWR | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        fcntl.ioctl(fd, VIDIOC_S_CTRL, bytearray(struct.pack("<Ii", CID_H264_I_PERIOD, frames)))
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def device_error(device: str, exc: BaseException, path: str | None = None) -> str:
    """Why ``device`` cannot be opened or read, from the error the system gave, with the fix.

    ``device`` is how it is called ("/dev/video0 (camera index 0)"); ``path`` (default ``device``) is looked at.
    """
    code = getattr(exc, "errno", None)
    if code == errno.ENOENT:
        return (f"cannot open {device} — no such device; list cameras with `v4l2-ctl --list-devices` "
                "(or `ls /dev/video*`) and set [camera] index or path")
    if code in (errno.EACCES, errno.EPERM) and closed_folder(path or device):  # the video group would not help
        return f"cannot open {device} — {folder_fix(path or device)}"  # as in a fault: the folder cut
    if code in (errno.EACCES, errno.EPERM):
        return (f"cannot open {device} — permission denied; add this user to the 'video' group "
                "(`sudo usermod -aG video $USER`, then log in again)")
    if code == errno.EBUSY:
        return (f"cannot open {device} — busy: another program is using the camera (find it with "
                f"`fuser -v {device}`); close it, or give that program another camera")
    if code == errno.ENOTTY:
        return f"cannot open {device} — not a video device; set [camera] index or path to a /dev/video* camera"
    if code == errno.ENODEV:
        return f"cannot open {device} — the camera went away (unplugged?); plug it in again"
    return f"cannot open {device} — {exc}; check it with `v4l2-ctl -d {device} --all`"
