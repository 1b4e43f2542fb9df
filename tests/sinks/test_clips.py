"""Clip store: subtitles line up with the words, files + Redis index, the signed webhook, the API."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi import FastAPI, HTTPException, Request
from fastapi.testclient import TestClient

from models.clips import ClipPlan, TimedWord
from processors.clipper import Clipper, RoomClipState
from sinks.clips import ClipStore
from sinks.web.clips import register_clip_routes
from media.cutter import CutResult
from streams.embedded import EmbeddedRedis
from streams.schemas import Clip, SellingPoint
from streams.security import SignatureVerifier
from media.segment_store import LocalSegmentStore
from streams.settings import Settings

ROOM = "room-1"
_SRT_TIME = re.compile(r"(\d\d):(\d\d):(\d\d),(\d\d\d) --> (\d\d):(\d\d):(\d\d),(\d\d\d)")


@pytest.fixture(scope="module")
def redis_url():
    server = EmbeddedRedis().start()
    yield server.url
    server.stop()


def _ms(h, m, s, ms) -> int:
    return ((int(h) * 60 + int(m)) * 60 + int(s)) * 1000 + int(ms)


def _plan(words: list[TimedWord], start_ms: int, end_ms: int) -> ClipPlan:
    return ClipPlan("abc123", start_ms, end_ms, "fabric_material", "Fabric: silk", " ".join(w.text for w in words),
                    tuple(words), 0.8, "fabric_material 6.0 s")


def _selling_point(words: list[TimedWord]) -> SellingPoint:
    return SellingPoint(room_id=ROOM, stream_ms=words[-1].end_ms, segment_id="s1", category="apparel",
                        label="fabric_material", start_ms=words[0].start_ms, end_ms=words[-1].end_ms,
                        text="", confidence=0.9, words=[w.__dict__ for w in words])


def test_subtitle_cues_match_the_words_relative_to_the_clip_start(tmp_path):
    settings = Settings(_env_file=None)
    store = ClipStore(tmp_path / "clips")
    clipper = Clipper(settings, LocalSegmentStore(tmp_path / "seg"), store)
    # sentence-final words make one cue each, so every cue's times are one word's times
    texts = ["Silk.", "Soft.", "Cool.", "Light.", "Smooth.", "Pure."]
    words = [TimedWord(10_400 + i * 900, 10_400 + i * 900 + 600, t) for i, t in enumerate(texts)]
    plan = _plan(words, 10_100, 15_700)
    # the cut really started one frame after the plan (first kept frame)
    result = CutResult("ready", 10_120, 15_720, 5_600, 140, True, "", 10_100, 15_700)
    clip = clipper.finish(_selling_point(words), plan, result)
    srt = (store.clip_dir(ROOM, "abc123") / "clip.srt").read_text()
    cues = [(_ms(*m.groups()[:4]), _ms(*m.groups()[4:])) for m in _SRT_TIME.finditer(srt)]
    assert cues == [(w.start_ms - result.start_ms, w.end_ms - result.start_ms) for w in words]
    vtt = (store.clip_dir(ROOM, "abc123") / "clip.vtt").read_text()
    assert vtt.startswith("WEBVTT") and "00:00:00.280 --> 00:00:00.880" in vtt
    meta = json.loads((store.clip_dir(ROOM, "abc123") / "meta.json").read_text())
    assert meta["start_ms"] == 10_120 and meta["label"] == "fabric_material" and meta["title"] == "Fabric: silk"
    assert meta["category"] == "apparel" and meta["score"] == 0.8 and meta["transcript"]
    assert clip.files["srt"] == f"/clips/{ROOM}/abc123/clip.srt" and "mp4" not in clip.files  # no video written


def test_skipped_clip_leaves_no_folder(tmp_path):
    store = ClipStore(tmp_path / "clips")
    clipper = Clipper(Settings(_env_file=None), LocalSegmentStore(tmp_path / "seg"), store)
    words = [TimedWord(1000, 1500, "hi.")]
    store.write_text(ROOM, "abc123", "clip.srt", "partial")
    result = CutResult("skipped", 900, 900, 0, 0, False, "no media", 900, 1800)
    clip = clipper.finish(_selling_point(words), _plan(words, 900, 1800), result)
    assert clip.status == "skipped" and "no media" in clip.reason and not clip.files
    assert not store.clip_dir(ROOM, "abc123").exists()


def test_file_names_are_validated(tmp_path):
    store = ClipStore(tmp_path / "clips")
    for room, clip_id, name in [("..", "abc", "clip.mp4"), (ROOM, "../x", "clip.mp4"), (ROOM, "abc", "../../etc"),
                                (ROOM, "abc", "other.mp4")]:
        with pytest.raises(ValueError):
            store.path(room, clip_id, name)


class _Receiver(BaseHTTPRequestHandler):
    verifier = SignatureVerifier("s3cret")
    received: list = []

    def do_POST(self):  # noqa: N802 - http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        problem = self.verifier.verify(body, {k: v for k, v in self.headers.items()})
        self.received.append((body, problem))
        self.send_response(204 if problem is None else 401)
        self.end_headers()

    def log_message(self, *args):
        pass


async def test_index_lists_clips_and_the_webhook_is_signed(tmp_path, redis_url):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    store = ClipStore(tmp_path / "clips", redis_url, f"http://127.0.0.1:{server.server_port}/hook", "s3cret")
    await store.redis.flushdb()
    try:
        clips = [Clip(room_id=ROOM, stream_ms=e, clip_id=f"c{i}", status="ready", start_ms=s, end_ms=e,
                      score=score, title=f"t{i}")
                 for i, (s, e, score) in enumerate([(1000, 9000, 0.2), (20_000, 30_000, 0.9), (40_000, 45_000, 0.5)])]
        for c in clips:
            await store.index(c)
        await store.index(clips[1])  # redelivered: still one entry, announced once
        listed = await store.list(ROOM)
        assert [c["clip_id"] for c in listed] == ["c2", "c1", "c0"]  # latest first
        assert [c["clip_id"] for c in await store.list(ROOM, order="score")] == ["c1", "c2", "c0"]
        await store.unindex(ROOM, "c0")
        assert [c["clip_id"] for c in await store.list(ROOM)] == ["c2", "c1"]

        await asyncio.wait_for(store.webhook.drain(), 30)  # every announcement made so far was delivered
        assert len(_Receiver.received) == 3
        assert all(problem is None for _body, problem in _Receiver.received), _Receiver.received
        assert json.loads(_Receiver.received[0][0])["clip_id"] == "c0"
    finally:
        await store.close()
        server.shutdown()


def test_clip_is_announced_before_its_vertical_variant(tmp_path):
    store = ClipStore(tmp_path / "clips")
    clipper = Clipper(Settings(_env_file=None), LocalSegmentStore(tmp_path / "seg"), store)
    words = [TimedWord(1000, 1500, "Silk.")]
    folder = store.clip_dir(ROOM, "abc123")
    folder.mkdir(parents=True)
    (folder / "clip.mp4").write_bytes(b"mp4")
    result = CutResult("ready", 900, 1800, 900, 22, True, "", 900, 1800)
    clip = clipper.finish(_selling_point(words), _plan(words, 900, 1800), result)
    assert clip.pending == ["vertical"] and clip.revision == 0
    assert "mp4" in clip.files and "vertical" not in clip.files
    (folder / "vertical.mp4").write_bytes(b"mp4")
    update = clipper.finish_vertical(clip, CutResult("ready", 900, 1800, 900, 22, True, "", 900, 1800))
    assert (update.clip_id, update.revision, update.pending) == (clip.clip_id, 1, [])
    assert update.event_id != clip.event_id  # a new event for the sinks that dedupe by event_id
    assert update.files["vertical"] == f"/clips/{ROOM}/abc123/vertical.mp4"
    assert json.loads((folder / "meta.json").read_text())["files"] == update.files
    failed = clipper.finish_vertical(clip, CutResult("skipped", 900, 900, 0, 0, False, "no media", 900, 1800))
    assert "vertical" not in failed.files and "no vertical variant: no media" in failed.reason and not failed.pending
    # superseded, then planned again trimmed: same clip_id (sha1 of room, label, start), new span,
    # a revision above the old events so that every sink keeps the new cut
    recut = clipper.finish(_selling_point(words), _plan(words, 900, 1500),
                           CutResult("ready", 900, 1500, 600, 15, True, "", 900, 1500), revision=2)
    assert (recut.revision, recut.end_ms) == (2, 1500) and recut.event_id not in (clip.event_id, update.event_id)
    state = RoomClipState({})
    state.revisions["abc123"] = 3
    assert RoomClipState(state.to_raw()).revisions == {"abc123": 3}


async def test_a_clip_update_replaces_the_indexed_event_and_an_old_redelivery_does_not(tmp_path, redis_url):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Receiver.received = []
    store = ClipStore(tmp_path / "clips", redis_url, f"http://127.0.0.1:{server.server_port}/hook", "s3cret")
    await store.redis.flushdb()
    try:
        first = Clip(room_id=ROOM, stream_ms=9000, clip_id="c9", status="ready", start_ms=1000, end_ms=9000,
                     files={"mp4": "/clips/x/c9/clip.mp4"}, pending=["vertical"])
        update = first.model_copy(update={"revision": 1, "pending": [], "event_id": first.event_id + ":r1",
                                          "files": {**first.files, "vertical": "/clips/x/c9/vertical.mp4"}})
        await store.index(first)
        assert (await store.list(ROOM))[0]["pending"] == ["vertical"]
        await store.index(update)
        await store.index(first)  # redelivered after the update: must not bring "pending" back
        await store.index(update)  # redelivered: no second announcement
        listed = await store.list(ROOM)
        assert len(listed) == 1 and listed[0]["revision"] == 1 and "vertical" in listed[0]["files"]
        await asyncio.wait_for(store.webhook.drain(), 30)
        assert [json.loads(body)["revision"] for body, _problem in _Receiver.received] == [0, 1]
    finally:
        await store.close()
        server.shutdown()


async def test_api_serves_files_with_the_token_only(tmp_path, redis_url):
    settings = Settings(_env_file=None, clips={"out_dir": tmp_path / "clips"})
    store = ClipStore(settings.clips.out_dir, redis_url)
    await store.redis.flushdb()
    store.write_text(ROOM, "c1", "clip.srt", "1\n00:00:00,000 --> 00:00:01,000\nhi\n")
    (tmp_path / "secret.txt").write_text("do not serve")
    await store.index(Clip(room_id=ROOM, stream_ms=1, clip_id="c1", status="ready", start_ms=0, end_ms=1000))
    await store.close()

    import redis.asyncio as aioredis

    app = FastAPI()

    async def require_token(request: Request) -> None:
        if request.headers.get("authorization") != "Bearer tok":
            raise HTTPException(401)

    register_clip_routes(app, settings, require_token, lambda: aioredis.from_url(redis_url, decode_responses=True))
    with TestClient(app) as client:
        auth = {"Authorization": "Bearer tok"}
        assert client.get(f"/clips/{ROOM}/c1/clip.srt").status_code == 401
        assert client.get(f"/api/rooms/{ROOM}/clips").status_code == 401
        r = client.get(f"/clips/{ROOM}/c1/clip.srt", headers=auth)
        assert r.status_code == 200 and "hi" in r.text
        assert [c["clip_id"] for c in client.get(f"/api/rooms/{ROOM}/clips", headers=auth).json()] == ["c1"]
        for bad in [f"/clips/{ROOM}/c1/..%2F..%2Fsecret.txt", f"/clips/{ROOM}/..%2F..%2F/secret.txt",
                    "/clips/..%2F/c1/clip.srt", f"/clips/{ROOM}/c1/clip.mp4", f"/clips/{ROOM}/c1/other.txt"]:
            assert client.get(bad, headers=auth).status_code == 404, bad


async def test_api_serves_platform_renders_by_role_once_finished(tmp_path, redis_url):
    settings = Settings(_env_file=None, clips={"out_dir": tmp_path / "clips"})
    store = ClipStore(settings.clips.out_dir, redis_url)
    await store.close()
    store.write_text(ROOM, "c1", "clip.srt", "1\n00:00:00,000 --> 00:00:01,000\nhi\n")
    render = settings.clips.out_dir / ROOM / "c1" / "renders" / "douyin"
    render.mkdir(parents=True)
    (render / "clip.mp4").write_bytes(b"not really an mp4")
    (render / "cover.jpg").write_bytes(b"jpg")

    app = FastAPI()

    async def require_token(request: Request) -> None:
        if request.headers.get("authorization") != "Bearer tok":
            raise HTTPException(401)

    register_clip_routes(app, settings, require_token, lambda: None)
    base = f"/api/rooms/{ROOM}/clips/c1/files"
    with TestClient(app) as client:
        auth = {"Authorization": "Bearer tok"}
        assert client.get(f"{base}/render:douyin").status_code == 401
        # no meta.json yet: the render is still being written, never served as done
        assert client.get(f"{base}/render:douyin", headers=auth).status_code == 404
        assert "render:douyin" not in store.files_of(ROOM, "c1")
        (render / "meta.json").write_text('{"platform": "douyin"}')
        r = client.get(f"{base}/render:douyin", headers=auth)
        assert r.status_code == 200 and r.content == b"not really an mp4" and r.headers["content-type"] == "video/mp4"
        assert client.get(f"{base}/render:douyin:cover", headers=auth).headers["content-type"] == "image/jpeg"
        assert client.get(f"{base}/render:douyin:meta", headers=auth).json() == {"platform": "douyin"}
        assert client.get(f"{base}/srt", headers=auth).text.endswith("hi\n")
        for bad in ["render:tiktok", "render:douyin:other", "render:..%2F..", "render:Douyin", "secret", "render"]:
            assert client.get(f"{base}/{bad}", headers=auth).status_code == 404, bad
    assert store.files_of(ROOM, "c1")["render:douyin:cover"] == f"{base}/render:douyin:cover"


def _host_alert(start_ms: int, end_ms: int, term: str = "全网最低"):
    from streams.schemas import ComplianceAlert
    return ComplianceAlert(
        room_id=ROOM, event_id=f"a{start_ms}", stream_ms=end_ms, source="host", source_id=f"seg{start_ms}",
        text=term, start_ms=start_ms, end_ms=end_ms, severity="critical",
        violations=[{"kind": "absolute_term", "rule": "zh.absolute.lowest_price", "term": term, "start": 0,
                     "end": len(term), "severity": "critical", "law": "广告法", "suggestion": "说具体价格",
                     "start_ms": start_ms, "end_ms": end_ms}])


def test_a_clip_holding_a_violation_carries_it_and_is_held(tmp_path):
    store = ClipStore(tmp_path / "clips")
    clipper = Clipper(Settings(_env_file=None), LocalSegmentStore(tmp_path / "seg"), store)
    state = RoomClipState({})
    state.add_violations(_host_alert(1_200, 1_400), history_ms=120_000)  # inside the clip below
    state.add_violations(_host_alert(5_000, 5_500, "第一"), history_ms=120_000)  # after it
    state.add_violations(_host_alert(1_200, 1_400), history_ms=120_000)  # redelivered: kept once
    state = RoomClipState(state.to_raw())  # through the table
    words = [TimedWord(1000, 1500, "全网最低")]
    result = CutResult("ready", 900, 1800, 900, 22, True, "", 900, 1800)
    clip = clipper.finish(_selling_point(words), _plan(words, 900, 1800), result, state=state)
    assert clip.hold and [v.term for v in clip.compliance] == ["全网最低"]
    meta = json.loads((store.clip_dir(ROOM, "abc123") / "meta.json").read_text())
    assert meta["hold"] is True and meta["compliance"][0]["rule"] == "zh.absolute.lowest_price"
    clean = clipper.finish(_selling_point(words), _plan(words, 2_000, 4_000),
                           CutResult("ready", 2_000, 4_000, 2_000, 50, True, "", 2_000, 4_000), state=state)
    assert not clean.hold and clean.compliance == []


async def test_a_held_clip_is_indexed_but_never_sent_to_the_webhook(tmp_path, redis_url):
    class Receiver(_Receiver):
        received: list = []

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    store = ClipStore(tmp_path / "clips", redis_url, f"http://127.0.0.1:{server.server_port}/hook", "s3cret")
    room = "held-room"
    try:
        held = Clip(room_id=room, stream_ms=9000, clip_id="h1", status="ready", start_ms=1000, end_ms=9000,
                    hold=True, compliance=_host_alert(1_200, 1_400).violations)
        free = Clip(room_id=room, stream_ms=19000, clip_id="f1", status="ready", start_ms=10_000, end_ms=19_000)
        await store.index(held)
        await store.index(free)
        assert {c["clip_id"] for c in await store.list(room)} == {"h1", "f1"}  # both reviewable
        for _ in range(100):
            if Receiver.received:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # the held clip's delivery would have been queued before the free one's
        assert [json.loads(body)["clip_id"] for body, _p in Receiver.received] == ["f1"]
    finally:
        await store.close()
        server.shutdown()
