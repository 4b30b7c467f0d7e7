"""The viewer's URLs (``docs/viewer.md``): timeline, event page, media, downloads, login.

Every URL names footage by the names the listing gave it (camera, day, event, seq);
each part is checked against its pattern and then looked up in the listing, so
nothing that is not a listed ``.qsc`` file can be asked for. Decrypted bytes are
kept in small in-memory caches (the last few events' video and snapshots, the
timeline's thumbnails) and never written anywhere.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from quickcam.uploader.backends import BackendError
from quickcam.uploader.viewer.footage import EventSummary
from quickcam.uploader.viewer.security import RequireLogin, SecurityHeaders, cookie_header, same_origin
from quickcam.uploader.viewer.state import ADOPTED_NOTE, Viewer, clock, event_zip, when
from quickcam.uploader.viewer.store import CAMERA_RE, DAY_RE, StoredEvent

HERE = Path(__file__).parent
log = logging.getLogger(__name__)


def build_app(viewer: Viewer, allowed_hosts: list[str] | None = None) -> Starlette:
    """The ASGI app: routes, the login gate, the Host check and the security headers."""
    templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                            autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)

    def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        strip = viewer.uplink.lines() if viewer.uplink else []
        body = templates.get_template(name).render(destination=viewer.destination, strip=strip,
                                                   adopted_note=ADOPTED_NOTE, **context)
        return HTMLResponse(body, status_code=status)

    def listing_failed(exc: BackendError) -> HTMLResponse:
        line = (f"FAIL  storage {viewer.destination}: {exc}; fix: check [storage.{viewer.destination}] and its "
                "credentials in tokens.env (quickcam doctor tests them)")
        log.warning("%s", line)
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
        summary = viewer.summary(event)
        end_ms = event.start_ms + round(summary.duration_s * 1000)
        keys = sorted(f"{mode} {key_id}" for mode, key_id in event.key_ids)
        seqs = Counter(snap.opened.item.seq for snap in footage.snapshots)
        shared = {seq for seq, count in seqs.items() if count > 1}  # linked as SEQ-ID.jpg, each its own picture
        return render("event.html", event=event, footage=footage, shared=shared, start=when(event.start_ms),
                      end=when(end_ms) if summary.duration_s else "?", keys=keys,
                      faces=max((s.faces for s in footage.snapshots), default=0),
                      banners=_key_banners(viewer, [event]))

    def video(request: Request) -> Response:
        event = _event_or_404(request)
        if isinstance(event, Response):
            return event
        parts = viewer.event_footage(event).video.parts
        number = request.path_params.get("part", 1)  # video.mp4 is the first (the whole event, unless it changed size)
        if not parts:
            return PlainTextResponse("no playable segment in this event", status_code=404)
        if not 1 <= number <= len(parts):
            return PlainTextResponse(f"this event's video has {len(parts)} part(s)", status_code=404)
        mp4 = parts[number - 1].mp4
        if request.path_params.get("download"):
            name = _download_name(event) + (f"-{number}" if number > 1 else "")
            return Response(mp4, media_type="video/mp4", headers={
                "content-disposition": f'attachment; filename="{name}.mp4"'})
        return ranged(request, mp4, "video/mp4")

    def snapshot(request: Request) -> Response:
        event = _event_or_404(request)
        if isinstance(event, Response):
            return event
        seq = request.path_params["seq"]
        item = request.path_params.get("item")  # SEQ-ID.jpg: one of the snapshots that share a seq; SEQ.jpg: the first
        for snap in viewer.event_footage(event).snapshots:
            if snap.opened.item.seq == seq and item in (None, snap.opened.item.item_id):
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
        return Response(event_zip(footage), media_type="application/zip", headers={
            "content-disposition": f'attachment; filename="{_download_name(event)}.zip"'})

    def login_form(request: Request) -> Response:
        return render("login.html", password=bool(viewer.gate.password_hash), error="")

    async def login(request: Request) -> Response:
        if not same_origin(request):
            return PlainTextResponse("login refused: the form was not sent from this page", status_code=403)
        body = await request.body()
        if len(body) > 4096:
            return PlainTextResponse("request too large", status_code=413)
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        gate = viewer.gate
        ok = gate.token_ok(form.get("token", "")) or await run_in_threadpool(gate.password_ok, form.get("password", ""))
        if not ok:
            gate.note_failure("password or token")
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
        Route(event_path + "/video-{part:int}.mp4", video),
        Route(event_path + "/thumb.jpg", thumbnail),
        Route(event_path + "/snapshot/{seq:int}.jpg", snapshot),
        Route(event_path + "/snapshot/{seq:int}-{item}.jpg", snapshot),
        Route(event_path + "/download.mp4", lambda r: video(_with(r, download=True))),
        Route(event_path + "/download-{part:int}.mp4", lambda r: video(_with(r, download=True))),
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
    return {"event": event, "time": clock(event.start_ms) if event.start_ms else "?",
            "duration": f"{summary.duration_s:.0f} s" if summary.duration_s else "no video",
            "faces": summary.faces, "thumb": summary.thumbnail is not None,
            "problems": summary.problems, "segments": len(event.segments), "snapshots": len(event.snapshots)}


def _key_banners(viewer: Viewer, events: list[StoredEvent]) -> list[str]:
    foreign = viewer.foreign_keys(events)
    if not foreign:
        return []
    ids = viewer.keyring.key_ids
    given = f"the key given has id {ids[0]}" if len(ids) == 1 else f"the keys given have ids {', '.join(ids)}"
    return [f"wrong key: these files were encrypted with {', '.join(foreign)}; {given}. Add the matching key "
            "(ENCRYPTION_KEY / ENCRYPTION_KEYS_OLD, ENCRYPTION_PRIVATE_KEY_FILE, or --key-file)."]


def _download_name(event: StoredEvent) -> str:
    stamp = datetime.fromtimestamp(event.start_ms / 1000, UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{event.camera}_{stamp}_{event.event_id}"


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


