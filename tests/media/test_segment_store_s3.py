"""S3SegmentStore against a local S3-compatible server (moto's, from the dev extra): ingest writes
segments to the bucket, a reader in "another process" (its own client and cache) lists them, cuts
a frame-exact clip from them, and pruning removes index records and media."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from media.cutter import cut_clip
from media.decode import MediaIngest
from media.segment_store import S3SegmentStore, open_segment_store
from tests.media.test_cutter import FRAME_MS, _decoded, _write_source

boto3 = pytest.importorskip("boto3", reason="the s3 extra (boto3) is not installed: pip install -e '.[dev]'")
moto_server = pytest.importorskip("moto.server", reason="moto[server] (dev extra) is not installed")

ROOM = "s3-room"


@pytest.fixture(scope="module")
def endpoint():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def _client(endpoint: str):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


@pytest.fixture
def bucket(endpoint, request) -> str:
    name = f"segments-{request.node.name.lower().replace('_', '-')[:40]}"
    _client(endpoint).create_bucket(Bucket=name)
    return name


def test_segments_round_trip_through_the_bucket_and_prune(endpoint, bucket, tmp_path: Path) -> None:
    writer = S3SegmentStore(bucket, "live/v1", 10, tmp_path / "writer-cache", client=_client(endpoint))
    for seq in range(4):
        writer.write(ROOM, seq, seq * 2000, 2000, f"segment {seq}".encode(), has_audio=seq != 3)
    keys = sorted(o["Key"] for o in _client(endpoint).list_objects_v2(Bucket=bucket)["Contents"])
    assert f"live/v1/{ROOM}/000002.ts" in keys and f"live/v1/{ROOM}/index/000002.json" in keys
    assert not list((tmp_path / "writer-cache").rglob("*.part"))

    reader = S3SegmentStore(bucket, "live/v1", 10, tmp_path / "reader-cache", client=_client(endpoint))
    segs = reader.list_segments(ROOM)
    assert [(s.seq, s.start_ms, s.end_ms, s.has_audio) for s in segs] == [
        (0, 0, 2000, True), (1, 2000, 4000, True), (2, 4000, 6000, True), (3, 6000, 8000, False)]
    assert not segs[1].path.exists()  # nothing is downloaded until a cut asks for it
    between = reader.segments_between(ROOM, 2500, 4500)
    assert [s.seq for s in between] == [1, 2] and between[0].path.read_bytes() == b"segment 1"
    assert reader.rooms() == [ROOM]

    expired = writer.prune(ROOM, now_ms=14_500)  # retention 10 s: segments ending by 4.5 s go
    assert [s.seq for s in expired] == [0, 1]
    assert [s.seq for s in reader.list_segments(ROOM)] == [2, 3]
    assert reader.segments_between(ROOM, 0, 3000) == []


def test_a_clip_cut_from_the_bucket_is_frame_exact(endpoint, bucket, tmp_path: Path) -> None:
    source = tmp_path / "counter.mp4"
    _write_source(source)
    writer = S3SegmentStore(bucket, "", 600, tmp_path / "w", client=_client(endpoint))
    ingest = MediaIngest(str(source), ROOM, writer, segment_s=2.0, realtime=False, prune=False)
    for _ in ingest.events():
        pass
    assert not ingest.errors, ingest.errors
    reader = S3SegmentStore(bucket, "", 600, tmp_path / "r", client=_client(endpoint))
    start_ms, end_ms = 1130, 4210
    result = cut_clip(reader.segments_between(ROOM, start_ms, end_ms), start_ms, end_ms, tmp_path / "clip.mp4")
    assert result.status == "ready", result.reason
    indices, _times, audio, _rate = _decoded(tmp_path / "clip.mp4")
    assert start_ms <= indices[0] * FRAME_MS < start_ms + FRAME_MS
    assert end_ms - FRAME_MS <= indices[-1] * FRAME_MS < end_ms
    assert indices == list(range(indices[0], indices[-1] + 1)) and len(audio) > 0


def test_open_segment_store_reads_s3_uris(endpoint, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)  # boto3's own configuration picks the server
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    store = open_segment_store("s3://uri-bucket/rooms", 60, tmp_path / "cache")
    assert isinstance(store, S3SegmentStore) and (store.bucket, store.prefix) == ("uri-bucket", "rooms")
    store.client.create_bucket(Bucket="uri-bucket")
    store.write(ROOM, 0, 0, 2000, b"x")
    assert [s.seq for s in store.list_segments(ROOM)] == [0]
    with pytest.raises(ValueError):
        open_segment_store("s3:///prefix", 60)
