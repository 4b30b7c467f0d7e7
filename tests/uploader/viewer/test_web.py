"""The viewer's HTTP surface through Starlette's TestClient: pages, media, ranges, login, bad input."""

from __future__ import annotations

import io
import json
import logging
import re
import zipfile
from pathlib import Path

import av
import pytest
from starlette.testclient import TestClient

from quickcam.common.cryptofile import Keyring, SymmetricKey
from quickcam.uploader.viewer.security import COOKIE
from quickcam.uploader.viewer.state import Viewer
from quickcam.uploader.viewer.web import build_app
from tests.conftest import REPO
from tests.uploader.viewer.conftest import PASSWORD, T0
from tests.uploader.viewer.footage_store import (
    StoredEventFixture,
    add_event,
    make_jpeg,
    new_id,
    put_file,
    size_change_event,
)


def test_nothing_is_served_without_a_login(anonymous: TestClient, store: dict[str, StoredEventFixture]) -> None:
    assert anonymous.get("/").headers["location"] == "/login"
    assert anonymous.get(store["face"].url).status_code == 303
    assert anonymous.get(store["face"].url + "/video.mp4").status_code == 401
    assert anonymous.get(store["face"].url + "/snapshot/0.jpg").status_code == 401
    assert anonymous.get("/login").status_code == 200


def test_the_token_url_opens_a_session_and_leaves_the_address_bar(anonymous: TestClient, viewer: Viewer) -> None:
    response = anonymous.get(f"/?camera=cam0&token={viewer.gate.token}")
    assert response.status_code == 303
    assert response.headers["location"] == "/?camera=cam0"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert anonymous.get("/").status_code == 200


def test_a_wrong_token_is_refused_counted_and_logged(anonymous: TestClient, viewer: Viewer,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        response = anonymous.get("/?token=guess")
    assert response.status_code == 403
    assert COOKIE not in response.headers.get("set-cookie", "")
    assert viewer.gate.failed_logins == 1
    assert "refused a login with a wrong token" in caplog.text and "guess" not in caplog.text


def test_password_login_works_and_a_wrong_one_does_not(anonymous: TestClient) -> None:
    bad = anonymous.post("/login", data={"password": "nope"})
    assert bad.status_code == 403 and "wrong password" in bad.text
    good = anonymous.post("/login", data={"password": PASSWORD})
    assert good.status_code == 303 and COOKIE in good.headers["set-cookie"]
    assert anonymous.get("/").status_code == 200


def test_a_login_posted_from_another_site_is_refused(anonymous: TestClient) -> None:
    response = anonymous.post("/login", data={"password": PASSWORD}, headers={"origin": "http://evil.example"})
    assert response.status_code == 403
    response = anonymous.post("/login", data={"password": PASSWORD}, headers={"sec-fetch-site": "cross-site"})
    assert response.status_code == 403


def test_a_forged_host_header_is_refused(client: TestClient) -> None:
    assert client.get("/", headers={"host": "attacker.example"}).status_code == 400


def test_every_response_has_a_strict_policy_and_is_not_cached(client: TestClient,
                                                             store: dict[str, StoredEventFixture]) -> None:
    for url in ("/", store["face"].url, store["face"].url + "/video.mp4", "/login", "/nowhere"):
        headers = client.get(url).headers
        assert "default-src 'none'" in headers["content-security-policy"]
        assert "script-src" not in headers["content-security-policy"]  # no script at all
        assert headers["cache-control"] == "no-store"
        assert headers["x-content-type-options"] == "nosniff"


def test_timeline_lists_events_newest_first_with_faces_and_duration(client: TestClient,
                                                                     store: dict[str, StoredEventFixture]) -> None:
    page = client.get("/").text
    face, tampered, plain = (store[name].event_id for name in ("face", "tampered", "plain"))
    assert page.index(face) < page.index(tampered) < page.index(plain)
    assert "1 face(s)" in page
    assert "2 s" in page and "3 s" in page
    only_porch = client.get("/?camera=porch").text
    assert plain in only_porch and face not in only_porch


def test_event_page_shows_snapshots_video_and_verified_metadata(client: TestClient, viewer: Viewer,
                                                                store: dict[str, StoredEventFixture]) -> None:
    event = store["face"]
    page = client.get(event.url).text
    assert f'src="{event.url}/video.mp4"' in page
    assert "authenticated" in page and "DAMAGED" not in page
    assert f"symmetric {viewer.keyring.key_ids[0]}" in page and "last segment ends" in page
    import hashlib
    assert hashlib.sha256(event.plaintexts["segment-1"]).hexdigest() in page
    snap = client.get(event.url + "/snapshot/0.jpg")
    assert snap.status_code == 200 and snap.headers["content-type"] == "image/jpeg"
    assert snap.content.startswith(b"\xff\xd8")


def test_video_is_one_mp4_of_all_segments_with_range_requests(client: TestClient,
                                                              store: dict[str, StoredEventFixture]) -> None:
    url = store["face"].url + "/video.mp4"
    whole = client.get(url)
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    with av.open(io.BytesIO(whole.content)) as video:
        assert sum(1 for _ in video.decode(video=0)) == 20  # 2 segments x 10 frames, not re-encoded
        assert abs(video.duration / av.time_base - 2.0) < 0.2
    size = len(whole.content)
    part = client.get(url, headers={"range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{size}"
    tail = client.get(url, headers={"range": "bytes=-10"})
    assert tail.content == whole.content[-10:]
    assert client.get(url, headers={"range": f"bytes={size}-"}).status_code == 416
    assert client.get(url, headers={"range": "bytes=5-1"}).status_code == 416


def test_a_tampered_segment_is_shown_damaged_and_the_rest_still_plays(client: TestClient,
                                                                      store: dict[str, StoredEventFixture]) -> None:
    event = store["tampered"]
    page = client.get(event.url).text
    assert "DAMAGED: damaged: segment 0 (of 1, numbered from 0) failed authentication" in page
    assert "segment 1 left out" in page
    with av.open(io.BytesIO(client.get(event.url + "/video.mp4").content)) as video:
        assert sum(1 for _ in video.decode(video=0)) == 20  # segments 0 and 2


def test_a_cut_short_file_is_marked_on_the_timeline_and_left_out(client: TestClient, viewer: Viewer,
                                                                  store: dict[str, StoredEventFixture]) -> None:
    event = store["tampered"]
    path = event.files["segment-2"]
    path.write_bytes(path.read_bytes()[:-50])
    viewer.index.forget()
    assert "1 damaged or unreadable" in client.get("/").text
    page = client.get(event.url).text
    assert "DAMAGED: truncated:" in page
    with av.open(io.BytesIO(client.get(event.url + "/video.mp4").content)) as video:
        assert sum(1 for _ in video.decode(video=0)) == 10  # only segment 0 is whole


VECTORS = json.loads((REPO / "tests" / "vectors" / "viewer" / "urls.json").read_text())["cases"]


def test_url_vectors(anonymous: TestClient, viewer: Viewer, store: dict[str, StoredEventFixture]) -> None:
    """Every case of tests/vectors/viewer/urls.json, without and then with a session (one store)."""
    event = store["face"]
    paths = [case["path"].format(camera=event.camera, day=event.day, event=event.event_id, other_day="2020-01-01")
             for case in VECTORS]
    got = {"anonymous": [anonymous.get(path).status_code for path in paths]}
    anonymous.get(f"/?token={viewer.gate.token}")
    got["session"] = [anonymous.get(path).status_code for path in paths]
    wrong = [f"{case['path']} {who}: {got[who][n]} != {case[who]}" for n, case in enumerate(VECTORS)
             for who in ("anonymous", "session") if got[who][n] != case[who]]
    assert wrong == []


def test_downloads_give_the_joined_mp4_and_a_zip_with_a_report(client: TestClient,
                                                              store: dict[str, StoredEventFixture]) -> None:
    event = store["face"]
    mp4 = client.get(event.url + "/download.mp4")
    assert "attachment" in mp4.headers["content-disposition"] and mp4.content[4:8] == b"ftyp"
    archive = zipfile.ZipFile(io.BytesIO(client.get(event.url + "/download.zip").content))
    names = archive.namelist()
    assert "report.txt" in names and sum(name.endswith(".jpg") for name in names) == 2
    assert event.plaintexts["snapshot-0"] in [archive.read(n) for n in names]
    report = archive.read("report.txt").decode()
    assert event.event_id in report and "cam0" in report and "authenticated" in report


def test_a_wrong_key_gives_one_banner_naming_both_key_ids(viewer: Viewer, store_key: SymmetricKey,
                                                          store: dict[str, StoredEventFixture]) -> None:
    other = SymmetricKey.generate()
    viewer.keyring = Keyring([other])
    with TestClient(build_app(viewer), follow_redirects=False) as client:
        client.get(f"/?token={viewer.gate.token}")
        page = client.get("/")
        assert page.status_code == 200
        assert page.text.count("wrong key:") == 1
        assert f"symmetric key id {store_key.key_id}" in page.text and other.key_id in page.text
        event = client.get(store["face"].url)
        assert event.status_code == 200 and "wrong key" in event.text
        assert client.get(store["face"].url + "/video.mp4").status_code == 404


def test_a_destination_that_stops_answering_is_a_red_line_not_a_500(client: TestClient, viewer: Viewer,
                                                                     tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    storage.rename(tmp_path / "moved")
    storage.write_text("not a folder any more")  # listing it fails with ENOTDIR
    viewer.index.forget()
    page = client.get("/")
    assert page.status_code == 502
    assert "FAIL  storage local:" in page.text and "fix: check [storage.local]" in page.text


def test_a_file_the_back_end_fails_to_deliver_is_asked_for_again(client: TestClient,
                                                                  store: dict[str, StoredEventFixture]) -> None:
    event = store["face"]
    client.get("/")  # listed while every file is there
    path = event.files["segment-1"]
    hidden = path.with_name("elsewhere")
    path.rename(hidden)
    page = client.get(event.url).text
    assert "DAMAGED: unreadable: local storage:" in page  # gone since it was listed
    hidden.rename(path)
    page = client.get(event.url).text
    assert "DAMAGED" not in page
    with av.open(io.BytesIO(client.get(event.url + "/video.mp4").content)) as video:
        assert sum(1 for _ in video.decode(video=0)) == 20


def test_snapshots_that_share_a_seq_each_have_their_own_url(client: TestClient, tmp_path: Path,
                                                            store_key: SymmetricKey) -> None:
    # A detector that omits seq: every snapshot of the event is seq 0. Before, /snapshot/0.jpg was the only URL and
    # the page showed the first picture for each of them; /snapshot/0.jpg still answers the first (docs/viewer.md).
    start = T0 + 90_000
    event = add_event(tmp_path / "storage", store_key, start, [], [])
    pictures = [make_jpeg(40), make_jpeg(200)]
    ids = [new_id(start + n) for n in range(2)]
    for item_id, jpeg in zip(ids, pictures, strict=True):
        put_file(tmp_path / "storage", event.camera, event.day, event.event_id, "snapshot", 0, item_id, jpeg,
                 store_key, start, "image/jpeg")
    page = client.get(event.url).text
    sources = re.findall(r'<img src="([^"]+/snapshot/[^"]+)"', page)
    assert sorted(sources) == sorted(f"{event.url}/snapshot/0-{item_id}.jpg" for item_id in ids), sources
    images = [client.get(source) for source in sources]
    assert all(r.status_code == 200 and r.content.startswith(b"\xff\xd8") for r in images), images
    assert images[0].content != images[1].content  # each its own picture
    assert client.get(event.url + "/snapshot/0.jpg").content in {r.content for r in images}  # the old URL still works


def test_an_event_whose_camera_changed_size_is_two_videos_on_its_page(client: TestClient, tmp_path: Path,
                                                                     store_key: SymmetricKey) -> None:
    """A real event from the detector whose camera was set from 320x240 to 640x480 mid-event: the page shows
    both parts, each its own URL, download and size. Before, the 640x480 segments were left out."""
    (tmp_path / "camera").mkdir()
    segments = size_change_event(tmp_path / "camera")
    event = add_event(tmp_path / "storage", store_key, T0 + 90_000, [mp4 for _, mp4 in segments], [make_jpeg()])
    page = client.get(event.url).text
    assert "left out" not in page and "Part 2 of 2 · 640x480" in page
    for number, size in ((1, (320, 240)), (2, (640, 480))):
        suffix = "" if number == 1 else f"-{number}"
        assert f'src="{event.url}/video{suffix}.mp4"' in page and f'href="{event.url}/download{suffix}.mp4"' in page
        with av.open(io.BytesIO(client.get(f"{event.url}/video{suffix}.mp4").content)) as video:
            assert {(f.width, f.height) for f in video.decode(video=0)} == {size}
    assert client.get(event.url + "/video-3.mp4").status_code == 404
    download = client.get(event.url + "/download-2.mp4").headers["content-disposition"]
    assert download.endswith(f'_{event.event_id}-2.mp4"')
    report = zipfile.ZipFile(io.BytesIO(client.get(event.url + "/download.zip").content)).read("report.txt").decode()
    assert "video part 2: 640x480" in report
