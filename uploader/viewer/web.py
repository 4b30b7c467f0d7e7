"""The viewer's URLs (``docs/viewer.md``): timeline, event page, media, downloads, login.

Every URL names footage by the names the listing gave it (camera, day, event, seq);
each part is checked against its pattern and then looked up in the listing, so
nothing that is not a listed ``.qsc`` file can be asked for. Decrypted bytes are
kept in small in-memory caches (the last few events' video and snapshots, the
timeline's thumbnails) and never written anywhere.
"""

from __future__ import annotations

import asyncio
import io
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qs, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from quickcam.common.crypto_cli import output_name
from quickcam.common.cryptofile import Keyring
from quickcam.uploader.backends import BackendError, Reader
from quickcam.uploader.viewer.footage import (
    EventSummary,
    JoinedVideo,
    OpenedItem,
    draw_faces,
    join_segments,
    open_item,
    summarize,
)
from quickcam.uploader.viewer.security import COOKIE, Gate, SecurityHeaders, cookie_header
from quickcam.uploader.viewer.store import CAMERA_RE, DAY_RE, StoredEvent, StoreIndex
from quickcam.uploader.viewer.uplink import UplinkStatus

HERE = Path(__file__).parent
PAGE_SIZE = 24
K = TypeVar("K")
V = TypeVar("V")


class _LRU(Generic[K, V]):
    """A small thread-safe least-recently-used map (memory only)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
            return None

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)


@dataclass
class Snapshot:
    opened: OpenedItem
    drawn: bytes | None = field(repr=False)
    faces: int


@dataclass
class FileRow:
    """One line of the event page's file table and of the ZIP's report."""

    kind: str
    seq: int
    item_id: str
    start: str
    stored_bytes: int
    sha256: str
    ledger: str  # "matches", "DIFFERS", or "" (no ledger here)
    problem: str


@dataclass
class EventFootage:
    event: StoredEvent
    snapshots: list[Snapshot]
    video: JoinedVideo
    rows: list[FileRow]


@dataclass
class Viewer:
    """Everything the pages need; one per ``quickcam view`` run."""

    index: StoreIndex
    reader: Reader
    keyring: Keyring
    gate: Gate
    destination: str
    uplink: UplinkStatus | None = None
    page_size: int = PAGE_SIZE
    summaries: _LRU[str, EventSummary] = field(default_factory=lambda: _LRU(4000))
    footage: _LRU[str, EventFootage] = field(default_factory=lambda: _LRU(4))
    _pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(4))

    def summary(self, event: StoredEvent) -> EventSummary:
        key = _fingerprint(event)
        found = self.summaries.get(key)
        if found is None:
            found = summarize(self.reader, event, self.keyring)
            self.summaries.put(key, found)
        return found

    def summaries_for(self, events: list[StoredEvent]) -> list[EventSummary]:
        return list(self._pool.map(self.summary, events))

    def event_footage(self, event: StoredEvent) -> EventFootage:
        key = _fingerprint(event)
        found = self.footage.get(key)
        if found is None:
            found = self._load_footage(event)
            self.footage.put(key, found)
        return found

    def _load_footage(self, event: StoredEvent) -> EventFootage:
        snapshots = []
        for opened in self._pool.map(lambda i: open_item(self.reader, i, self.keyring), event.snapshots):
            drawn, faces = draw_faces(opened.plaintext) if opened.plaintext is not None else (None, 0)
            snapshots.append(Snapshot(opened, drawn, faces))
        segments = list(self._pool.map(lambda i: open_item(self.reader, i, self.keyring), event.segments))
        video = join_segments(segments)
        known = self.uplink.sha256_of([i.item_id for i in event.items]) if self.uplink else {}
        rows = []
        for opened in [s.opened for s in snapshots] + segments:
            item, digest = opened.item, opened.sha256
            problem = opened.problem or (video.left_out.get(item.seq, "") if item.kind == "segment" else "")
            ledger = "" if item.item_id not in known or not digest else (
                "matches" if known[item.item_id] == digest else "DIFFERS")
            if ledger == "DIFFERS" and not problem:
                problem = "its SHA-256 differs from the one the detector sent (uploader ledger)"
            rows.append(FileRow(item.kind, item.seq, item.item_id, _when(item.start_ms), item.size,
                                digest, ledger, problem))
        return EventFootage(event, snapshots, video, rows)

    def foreign_keys(self, events: list[StoredEvent]) -> list[str]:
        """Key ids files were encrypted with that the key ring does not hold, as 'mode id'."""
        found = set()
        for event in events:
            for item in event.items:
                header = item.header
                if header is not None and self.keyring.get(header.mode, header.key_id) is None:
                    found.add(f"{header.mode_name} key id {header.key_id}")
        return sorted(found)


def _fingerprint(event: StoredEvent) -> str:
    """An event's cache key: its path and its files, so a new segment makes a new entry."""
    return event.path + "|" + ",".join(f"{i.key}:{i.size}" for i in event.items)


def _when(ms: int | None) -> str:
    if ms is None:
        return "?"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _clock(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M:%S")


# -- pages ----------------------------------------------------------------------------------------


def build_app(viewer: Viewer, allowed_hosts: list[str] | None = None) -> Starlette:
    """The ASGI app: routes, the login gate, the Host check and the security headers."""
    templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                            autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)

    def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        strip = viewer.uplink.lines() if viewer.uplink else []
        body = templates.get_template(name).render(destination=viewer.destination, strip=strip, **context)
        return HTMLResponse(body, status_code=status)

    def listing_failed(exc: BackendError) -> HTMLResponse:
        line = (f"FAIL  storage {viewer.destination}: {exc}; fix: check [storage.{viewer.destination}] and its "
                "credentials in tokens.env (quickcam doctor tests them)")
        return render("timeline.html", status=502, errors=[line], cameras=[], camera="", days=[], day="",
                      blocks=[], page=1, pages=1, total=0, banners=[], query=_query)

    def timeline(request: Request) -> Response:
        camera = request.query_params.get("camera", "")
        day = request.query_params.get("day", "")
        if (camera and not CAMERA_RE.match(camera)) or (day and not DAY_RE.match(day)):
            return PlainTextResponse("bad camera or day", status_code=400)
        try:
            page = max(1, int(request.query_params.get("page", "1")))
        except ValueError:
            return PlainTextResponse("bad page number", status_code=400)
        try:
            cameras = viewer.index.cameras()
            chosen = [camera] if camera else cameras
            days = sorted({d for c in chosen if c in cameras for d in viewer.index.days(c)}, reverse=True)
            day = day or (days[0] if days else "")
            events = [e for c in chosen if c in cameras for e in viewer.index.events(c, day)]
        except BackendError as exc:
            return listing_failed(exc)
        events.sort(key=lambda e: (e.start_ms, e.event_id), reverse=True)
        pages = max(1, -(-len(events) // viewer.page_size))
        page = min(page, pages)
        shown = events[(page - 1) * viewer.page_size: page * viewer.page_size]
        blocks = [_block(e, s) for e, s in zip(shown, viewer.summaries_for(shown), strict=True)]
        return render("timeline.html", cameras=cameras, camera=camera, days=days, day=day, blocks=blocks,
                      page=page, pages=pages, total=len(events), errors=[],
                      banners=_key_banners(viewer, events), query=_query)

    def _event_or_404(request: Request) -> StoredEvent | Response:
        p = request.path_params
        try:
            event = viewer.index.event(p["camera"], p["day"], p["event"])
        except BackendError as exc:
            return PlainTextResponse(f"storage {viewer.destination}: {exc}", status_code=502)
        if event is None:
            return PlainTextResponse("no such event in the listing", status_code=404)
        return event

    def event_page(request: Request) -> Response:
        event = _event_or_404(request)
        if isinstance(event, Response):
            return event
        footage = viewer.event_footage(event)
        return render("event.html", event=event, footage=footage, start=_when(event.start_ms),
                      faces=max((s.faces for s in footage.snapshots), default=0),
                      banners=_key_banners(viewer, [event]))

    def video(request: Request) -> Response:
        event = _event_or_404(request)
        if isinstance(event, Response):
            return event
        mp4 = viewer.event_footage(event).video.mp4
        if not mp4:
            return PlainTextResponse("no playable segment in this event", status_code=404)
        if request.path_params.get("download"):
            return Response(mp4, media_type="video/mp4", headers={
                "content-disposition": f'attachment; filename="{_download_name(event)}.mp4"'})
        return ranged(request, mp4, "video/mp4")

    def snapshot(request: Request) -> Response:
        event = _event_or_404(request)
        if isinstance(event, Response):
            return event
        seq = request.path_params["seq"]
        for snap in viewer.event_footage(event).snapshots:
            if snap.opened.item.seq == seq:
                if snap.drawn is None:
                    return PlainTextResponse(f"not shown: {snap.opened.problem}", status_code=422)
                return Response(snap.drawn, media_type="image/jpeg")
        return PlainTextResponse("no such snapshot in the listing", status_code=404)

    def thumbnail(request: Request) -> Response:
        event = _event_or_404(request)
        if isinstance(event, Response):
            return event
        thumb = viewer.summary(event).thumbnail
        if thumb is None:
            return PlainTextResponse("no readable snapshot in this event", status_code=404)
        return Response(thumb, media_type="image/jpeg")

    def download_zip(request: Request) -> Response:
        event = _event_or_404(request)
        if isinstance(event, Response):
            return event
        footage = viewer.event_footage(event)
        return Response(_zip(footage), media_type="application/zip", headers={
            "content-disposition": f'attachment; filename="{_download_name(event)}.zip"'})

    def login_form(request: Request) -> Response:
        return render("login.html", password=bool(viewer.gate.password_hash), error="")

    async def login(request: Request) -> Response:
        if not _same_origin(request):
            return PlainTextResponse("login refused: the form was not sent from this page", status_code=403)
        body = await request.body()
        if len(body) > 4096:
            return PlainTextResponse("request too large", status_code=413)
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        gate = viewer.gate
        ok = gate.token_ok(form.get("token", "")) or await run_in_threadpool(gate.password_ok, form.get("password", ""))
        if not ok:
            gate.note_failure()
            await asyncio.sleep(1.0)  # slows guessing; scrypt already costs ~0.1 s per try
            return render("login.html", status=403, password=bool(gate.password_hash),
                          error="wrong password or token")
        return RedirectResponse("/", status_code=303, headers={"set-cookie": cookie_header(gate.open_session())})

    def style(request: Request) -> Response:
        return FileResponse(HERE / "static" / "style.css", media_type="text/css")

    event_path = "/event/{camera}/{day}/{event}"
    routes = [
        Route("/", timeline),
        Route(event_path, event_page),
        Route(event_path + "/video.mp4", video),
        Route(event_path + "/thumb.jpg", thumbnail),
        Route(event_path + "/snapshot/{seq:int}.jpg", snapshot),
        Route(event_path + "/download.mp4", lambda r: video(_with(r, download=True))),
        Route(event_path + "/download.zip", download_zip),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/static/style.css", style),
    ]
    middleware = [Middleware(SecurityHeaders),
                  Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts or ["*"]),
                  Middleware(RequireLogin, gate=viewer.gate)]
    return Starlette(routes=routes, middleware=middleware)


def _with(request: Request, **params: Any) -> Request:
    request.path_params.update(params)
    return request


def _query(**params: Any) -> str:
    return "?" + urlencode({k: v for k, v in params.items() if v not in ("", None)})


def _block(event: StoredEvent, summary: EventSummary) -> dict[str, Any]:
    return {"event": event, "time": _clock(event.start_ms) if event.start_ms else "?",
            "duration": f"{summary.duration_s:.0f} s" if summary.duration_s else "no video",
            "faces": summary.faces, "thumb": summary.thumbnail is not None,
            "problems": summary.problems, "segments": len(event.segments), "snapshots": len(event.snapshots)}


def _key_banners(viewer: Viewer, events: list[StoredEvent]) -> list[str]:
    foreign = viewer.foreign_keys(events)
    if not foreign:
        return []
    held = ", ".join(viewer.keyring.key_ids) or "none"
    return [f"wrong key: these files were encrypted with {', '.join(foreign)}; the key given has id {held}. "
            f"Add the matching key (ENCRYPTION_KEY / ENCRYPTION_KEYS_OLD, ENCRYPTION_PRIVATE_KEY_FILE, or --key-file)."]


def _download_name(event: StoredEvent) -> str:
    stamp = datetime.fromtimestamp(event.start_ms / 1000, UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{event.camera}_{stamp}_{event.event_id}"


def _zip(footage: EventFootage) -> bytes:
    """The snapshots as stored (no boxes drawn) and report.txt: camera, times, hashes, problems."""
    event = footage.event
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as archive:
        for snap in footage.snapshots:
            if snap.opened.plaintext is not None and snap.opened.item.header is not None:
                archive.writestr(output_name(snap.opened.item.header.context), snap.opened.plaintext)
        lines = [f"camera: {event.camera}", f"event: {event.event_id}", f"start: {_when(event.start_ms)}",
                 f"video: {footage.video.duration_s:.1f} s from segments {footage.video.joined}",
                 "", "kind      seq  id  sha256 (of the decrypted file)  status"]
        for row in footage.rows:
            status = row.problem or "authenticated" + (f", ledger sha256 {row.ledger}" if row.ledger else "")
            lines.append(f"{row.kind:<9}{row.seq:>4}  {row.item_id}  {row.sha256 or '-'}  {status}")
        archive.writestr("report.txt", "\n".join(lines) + "\n")
    return buf.getvalue()


def ranged(request: Request, data: bytes, media_type: str) -> Response:
    """One byte range (``Range: bytes=a-b``, ``a-`` or ``-n``) of ``data``, or all of it."""
    size = len(data)
    header = request.headers.get("range", "")
    base = {"accept-ranges": "bytes"}
    if not header:
        return Response(data, media_type=media_type, headers=base)
    try:
        unit, _, spec = header.partition("=")
        if unit.strip() != "bytes" or "," in spec:
            raise ValueError
        first, _, last = spec.strip().partition("-")
        if first:
            start, end = int(first), (int(last) if last else size - 1)
        else:
            start, end = max(0, size - int(last)), size - 1
        end = min(end, size - 1)
        if start < 0 or start > end:
            raise ValueError
    except ValueError:
        return Response(b"", status_code=416, headers={**base, "content-range": f"bytes */{size}"})
    return Response(data[start:end + 1], status_code=206, media_type=media_type,
                    headers={**base, "content-range": f"bytes {start}-{end}/{size}"})


def _same_origin(request: Request) -> bool:
    """A login POST must come from this origin: Sec-Fetch-Site, else Origin, must say so."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser (curl, tests): no cookie of a victim rides along
    return origin == f"{request.url.scheme}://{request.headers.get('host', '')}"


class RequireLogin:
    """ASGI middleware: a valid session cookie, or ``?token=`` (which opens one), or go to /login."""

    OPEN = ("/login", "/static/style.css")

    def __init__(self, app: Callable[..., Any], gate: Gate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in self.OPEN:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        token = request.query_params.get("token")
        if token is not None:
            if self.gate.token_ok(token):
                rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
                target = scope["path"] + ("?" + urlencode(rest) if rest else "")
                response: Response = RedirectResponse(target, status_code=303,
                                                      headers={"set-cookie": cookie_header(self.gate.open_session())})
            else:
                self.gate.note_failure()
                await asyncio.sleep(1.0)
                response = PlainTextResponse("wrong token: open the URL quickcam view printed", status_code=403)
        elif self.gate.session_ok(request.cookies.get(COOKIE)):
            await self.app(scope, receive, send)
            return
        elif request.method == "GET" and not scope["path"].endswith((".mp4", ".jpg", ".zip")):
            response = RedirectResponse("/login", status_code=303)
        else:
            response = PlainTextResponse("log in first", status_code=401)
        await response(scope, receive, send)
