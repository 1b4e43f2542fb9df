"""The editors' desk without the page: decisions, trims snapped to cues, export zip + CSV (library,
HTTP API and CLI), on clip folders laid out as the clipper writes them."""

from __future__ import annotations

import csv
import io
import json
import shutil
import zipfile
from fractions import Fraction
from pathlib import Path

import av
import httpx
import pytest
import yaml
from pydantic import SecretStr
from typer.testing import CliRunner

from livelens.cli import app as cli_app
from livelens.sample_room import shared_data_dir
from media.desk import Desk, DeskError, parse_srt, snap_trim
from media.platforms import BUILTIN_DIR, load_profile
from models.clips.subtitles import Cue, to_srt

ROOM = "desk-room"
TOKEN = "desk-test-token-0123456789"
# the same speech as timed words (stream time; clip-a starts at 10 s of the stream)
WORDS = [(10_300, 10_420, "I"), (10_450, 10_800, "think"), (10_820, 10_950, "my"), (10_960, 11_300, "biggest"),
         (11_320, 11_500, "weakness"), (11_700, 11_850, "is"), (11_870, 12_300, "asking"), (12_310, 12_450, "for"),
         (12_460, 12_700, "help")]
CUES = [Cue(300, 1500, "I think my biggest weakness"), Cue(1700, 2700, "is asking for help"),
        Cue(2800, 3800, "when I need it")]


@pytest.fixture(scope="module")
def clip_video(tmp_path_factory) -> Path:
    """The first 4 s of talking_1 at 320x320 (the clip MP4 the clipper would have cut)."""
    src = shared_data_dir() / "video" / "talking_1.mp4"
    if not src.is_file():
        pytest.skip(f"real footage missing: {src} (../shared/data/video, or set LIVELENS_SHARED_DATA)")
    out = tmp_path_factory.mktemp("desk") / "clip.mp4"
    with av.open(str(src)) as inp, av.open(str(out), "w") as dst:
        vin, ain = inp.streams.video[0], inp.streams.audio[0]
        v = dst.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 320, 320, "yuv420p"
        v.options = {"preset": "ultrafast"}
        a = dst.add_stream("aac", rate=ain.rate, layout="mono")
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=ain.rate)
        n = 0
        for frame in inp.decode(vin, ain):
            if frame.time is None or frame.time >= 4.0:
                continue
            if isinstance(frame, av.AudioFrame):
                for x in resampler.resample(frame):
                    x.pts = None
                    dst.mux(a.encode(x))
                continue
            while n / 25 <= frame.time:
                vf = frame.reformat(width=320, height=320, format="yuv420p")
                vf.pts, vf.time_base = n, Fraction(1, 25)
                dst.mux(v.encode(vf))
                n += 1
        dst.mux(v.encode(None))
        dst.mux(a.encode(None))
    return out


@pytest.fixture()
def clips_dir(tmp_path, monkeypatch, clip_video) -> Path:
    """Two clips of one room (4 s of talking_1 as their MP4) and a small 'tiny' platform profile."""
    video = clip_video
    root = tmp_path / "clips"
    for i, clip_id in enumerate(("clip-a", "clip-b")):
        folder = root / ROOM / clip_id
        folder.mkdir(parents=True)
        shutil.copy(video, folder / "clip.mp4")
        (folder / "clip.srt").write_text(to_srt(CUES), encoding="utf-8")
        meta = {"room_id": ROOM, "clip_id": clip_id, "status": "ready", "category": "apparel",
                "label": "fabric_material", "title": "x", "transcript": " ".join(c.text for c in CUES),
                "start_ms": 10_000 + i * 20_000, "end_ms": 14_000 + i * 20_000, "score": 0.5}
        (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    data = yaml.safe_load((BUILTIN_DIR / "tiktok.yaml").read_text(encoding="utf-8"))
    data.update(name="tiny")
    data["video"].update(width=180, height=320, fps=15, preset="ultrafast")
    data["duration"]["min_s"] = 1
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "tiny.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    monkeypatch.setenv("LIVELENS_PROFILES_DIR", str(profiles))
    return root


def _zip(path: Path) -> tuple[list[str], list[dict]]:
    with zipfile.ZipFile(path) as z:
        names = sorted(z.namelist())
        rows = list(csv.DictReader(io.StringIO(z.read("metadata.csv").decode("utf-8-sig"))))
    return names, rows


def test_decisions_persist_and_rejected_clips_are_never_exported(clips_dir, tmp_path):
    desk = Desk(clips_dir)
    assert [c.status for c in desk.clips(ROOM)] == ["pending", "pending"]
    desk.decide(ROOM, "clip-a", "approved")
    desk.decide(ROOM, "clip-b", "rejected", "blurry")
    assert [(c.clip_id, c.status) for c in Desk(clips_dir).clips(ROOM)] == [("clip-a", "approved"),
                                                                          ("clip-b", "rejected")]
    path, rows = desk.export(ROOM, load_profile("tiny"), tmp_path / "out")
    names, csv_rows = _zip(path)
    assert names == ["clip-a.jpg", "clip-a.mp4", "metadata.csv"]
    assert [r["clip_id"] for r in csv_rows] == ["clip-a"] and csv_rows[0]["decision"] == "approved"
    assert csv_rows[0]["title"] and csv_rows[0]["platform"] == "tiny"
    assert not [p for p in (tmp_path / "out").iterdir() if ".part" in p.name]
    with pytest.raises(DeskError, match="no clip nope"):
        desk.decide(ROOM, "nope", "approved")
    with pytest.raises(DeskError):
        desk.decide(ROOM, "../../etc", "approved")


def test_approved_only_export_and_pending_clips(clips_dir, tmp_path):
    desk = Desk(clips_dir)
    with pytest.raises(DeskError, match="no approved clips"):
        desk.export(ROOM, load_profile("tiny"), tmp_path / "out", approved_only=True)
    path, rows = desk.export(ROOM, load_profile("tiny"), tmp_path / "out")  # pending ones are exported
    assert [r["clip_id"] for r in rows] == ["clip-a", "clip-b"]
    assert int(rows[1]["stream_start_ms"]) == 30_000 + int(rows[1]["clip_start_ms"])


def test_trim_snaps_to_cue_boundaries_and_the_render_follows(clips_dir, tmp_path):
    desk = Desk(clips_dir)
    assert parse_srt(to_srt(CUES)) == CUES
    decision = desk.trim(ROOM, "clip-a", 1900, 2500)  # inside the second cue
    assert decision["trim"] == {"start_ms": 1700, "end_ms": 2700}
    folder = desk.render(ROOM, "clip-a", load_profile("tiny"))
    meta = json.loads((folder / "meta.json").read_text())
    assert (meta["start"], meta["end"]) == (1.7, 2.7)
    with av.open(str(folder / "clip.mp4")) as c:
        assert c.streams.video[0].frames == 15  # 1 s at 15 fps
    assert [s["text"] for s in meta["subtitles"]] == ["is asking for help"]
    # far from any sentence boundary: the nearest word boundary ("I think my biggest weakness" spreads
    # its five words over 300-1500 ms: "biggest" starts at 1020; "is asking for" ends at 2200)
    assert snap_trim(CUES, 1000, 2300, 4000) == (1020, 2200)
    with pytest.raises(DeskError, match="less than 0.5 s"):
        snap_trim(CUES, 1000, 1100, 4000)
    with pytest.raises(DeskError, match="less than 0.5 s"):
        snap_trim([], 1000, 1200, 6000)  # no cues to snap to: clamped only


@pytest.fixture(scope="module")
def valkey():
    from streams.embedded import EmbeddedRedis

    server = EmbeddedRedis().start()
    yield server
    server.stop()


async def test_http_api_approve_trim_export(clips_dir, tmp_path, valkey):
    import redis

    from sinks.decisions import decisions_key
    from sinks.web.app import create_api
    from streams.settings import Settings

    redis.Redis.from_url(valkey.url).flushall()
    settings = Settings(_env_file=None, api_token=SecretStr(TOKEN), data_dir=tmp_path,
                        clips=Settings().clips.model_copy(update={"out_dir": clips_dir}))
    assert settings.clips_dir == clips_dir
    api = create_api(settings, valkey.url, None)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    from sinks.redis import RedisSink
    from streams.schemas import RoomMetrics, Transcript, Word

    sink = RedisSink(valkey.url)  # the room's metric windows around clip-a (10-14 s): its engagement
    for start, rate in ((5_000, 1.0), (10_000, 4.0), (15_000, 9.0)):
        await sink.write(RoomMetrics(room_id=ROOM, stream_ms=start + 5000, window_start_ms=start, window_ms=5000,
                                     messages_per_s=rate, orders_per_min=rate / 2))
    # the host's final transcript with its timed words (stream time), as the ASR writes it
    await sink.write(Transcript(room_id=ROOM, stream_ms=12_700, segment_id="s1", is_final=True, start_ms=10_300,
                                end_ms=12_700, text="I think my biggest weakness is asking for help",
                                words=[Word(start_ms=a, end_ms=b, text=t) for a, b, t in WORDS]))
    await sink.close()
    async with api.router.lifespan_context(api), httpx.AsyncClient(transport=httpx.ASGITransport(app=api),
                                                                   base_url="http://t") as client:
        assert (await client.post(f"/api/rooms/{ROOM}/clips/clip-a/approve")).status_code == 401
        r = await client.post(f"/api/rooms/{ROOM}/clips/clip-a/approve", headers=headers)
        assert r.status_code == 200 and r.json()["decision"] == "approved"
        r = await client.post(f"/api/rooms/{ROOM}/clips/clip-b/reject", headers=headers, json={"reason": "off topic"})
        assert r.json()["reason"] == "off topic"
        # far from a sentence boundary: the cut lands on the transcript's real word boundaries
        # ("biggest" starts at 960 ms of the clip, "asking" ends at 2300), not on spread estimates
        r = await client.post(f"/api/rooms/{ROOM}/clips/clip-a/trim", headers=headers,
                              json={"start_ms": 1000, "end_ms": 2280})
        assert r.json()["trim"] == {"start_ms": 960, "end_ms": 2300}
        assert snap_trim(CUES, 1000, 2280, 4000) == (1020, 2200)  # what the cue-spread estimate gives
        r = await client.post(f"/api/rooms/{ROOM}/clips/clip-a/trim", headers=headers,
                              json={"start_ms": 350, "end_ms": 2600})
        assert r.json()["trim"] == {"start_ms": 300, "end_ms": 2700}
        assert (await client.post(f"/api/rooms/{ROOM}/clips/clip-a/trim", headers=headers,
                                  json={"start_ms": "a"})).status_code == 400
        assert (await client.post(f"/api/rooms/{ROOM}/clips/zzz/approve", headers=headers)).status_code == 404
        desk = (await client.get(f"/api/rooms/{ROOM}/desk", headers=headers)).json()
        assert [(c["clip_id"], c["status"]) for c in desk] == [("clip-a", "approved"), ("clip-b", "rejected")]
        assert desk[0]["cues"][1] == {"start_ms": 1700, "end_ms": 2700, "text": "is asking for help"}
        assert desk[0]["ranked_by"] == "clip score" and desk[0]["rank"] == 0.5  # two decisions: too few to learn from
        assert desk[0]["label_name"] == {"zh": "面料材质", "en": "Fabric / material"} and desk[0]["language"] == "en"
        # the decisions are in Redis too, with the features the ranking learns from
        stored = {k.decode(): json.loads(v) for k, v in redis.Redis.from_url(valkey.url).hgetall(decisions_key(ROOM)).items()}
        assert stored["clip-a"]["decision"] == "approved" and stored["clip-b"]["reason"] == "off topic"
        assert stored["clip-b"]["features"]["label"] == "fabric_material" and stored["clip-b"]["features"]["duration_s"] == 4.0
        assert stored["clip-a"]["features"]["messages_per_s"] == 4.0  # the one window inside 10-14 s
        assert stored["clip-a"]["features"]["orders_per_min"] == 2.0 and stored["clip-b"]["features"]["messages_per_s"] == 0
        platforms = (await client.get("/api/platforms", headers=headers)).json()
        assert {"douyin", "tiktok", "tiny"} <= {p["name"] for p in platforms}
        assert (await client.get("/api/desk/rooms", headers=headers)).json() == [
            {"room_id": ROOM, "clips": 2, "pending": 0, "approved": 1}]
        r = await client.get(f"/api/rooms/{ROOM}/export", params={"platform": "tiny"}, headers=headers)
        assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
        names, rows = _zip_bytes(r.content)
        assert names == ["clip-a.jpg", "clip-a.mp4", "metadata.csv"] and rows[0]["clip_end_ms"] == "2700"
        r = await client.get(f"/api/rooms/{ROOM}/export", params={"platform": "myspace"}, headers=headers)
        assert r.status_code == 400 and "unknown platform" in r.json()["detail"]


def _zip_bytes(data: bytes) -> tuple[list[str], list[dict]]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return sorted(z.namelist()), list(csv.DictReader(io.StringIO(z.read("metadata.csv").decode("utf-8-sig"))))


def test_cli_export(clips_dir, tmp_path):
    Desk(clips_dir).decide(ROOM, "clip-b", "approved")
    runner = CliRunner()
    args = ["clips", "export", "--room", ROOM, "--platform", "tiny", "--out", str(tmp_path / "out"),
            "--clips-dir", str(clips_dir)]
    result = runner.invoke(cli_app, args + ["--approved"])
    assert result.exit_code == 0, result.output
    names, rows = _zip(tmp_path / "out" / f"{ROOM}-tiny.zip")
    assert [r["clip_id"] for r in rows] == ["clip-b"]
    result = runner.invoke(cli_app, ["clips", "export", "--room", "empty-room", "--platform", "tiny", "--out",
                                     str(tmp_path / "out"), "--clips-dir", str(clips_dir)])
    assert result.exit_code == 1 and "error: room empty-room has no clips" in result.output


async def test_stored_decisions_rank_the_queue(clips_dir, tmp_path, valkey):
    """Once enough decisions are stored (any room), the queue is ordered by the fitted approval model:
    here editors refused every compliance-flagged clip, so a flagged clip drops below a clean one
    even with a higher clipper score."""
    import redis

    from livelens.bench.clip_ranking import generate_decisions
    from sinks.decisions import DecisionStore
    from sinks.web.app import create_api
    from streams.settings import Settings

    redis.Redis.from_url(valkey.url).flushall()
    flagged = clips_dir / ROOM / "clip-b" / "meta.json"
    meta = json.loads(flagged.read_text())
    flagged.write_text(json.dumps({**meta, "score": 0.9, "hold": True,
                                   "compliance": [{"term": "best ever", "rule": "absolute_terms"}]}))
    client = redis.asyncio.from_url(valkey.url, decode_responses=True)
    store = DecisionStore(client)
    for i, row in enumerate(generate_decisions(rooms=4, clips_per_room=30, seed=11)):
        features = row["features"].to_dict()
        approved = row["approved"] and not features["compliance_flags"]
        await store.record(row["room_id"], f"c{i}", {"decision": "approved" if approved else "rejected"}, features)
    await client.aclose()
    settings = Settings(_env_file=None, api_token=SecretStr(TOKEN), data_dir=tmp_path, desk_ranking_min_decisions=50,
                        clips=Settings().clips.model_copy(update={"out_dir": clips_dir}))
    api = create_api(settings, valkey.url, None)
    async with api.router.lifespan_context(api), httpx.AsyncClient(transport=httpx.ASGITransport(app=api),
                                                                   base_url="http://t") as http:
        desk = (await http.get(f"/api/rooms/{ROOM}/desk", headers={"Authorization": f"Bearer {TOKEN}"})).json()
    assert [c["clip_id"] for c in desk] == ["clip-a", "clip-b"]
    assert desk[0]["ranked_by"] == "decisions (120)" and desk[0]["rank"] > desk[1]["rank"]
    assert desk[1]["score"] > desk[0]["score"]
