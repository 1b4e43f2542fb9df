"""``livelens forget`` against a real Redis and real clip files: what it removes, and only that."""

from __future__ import annotations

import asyncio
import json

import pytest
import redis.asyncio as aioredis
from typer.testing import CliRunner

from sinks.clips import ClipStore
from sinks.redis import RedisSink
from streams.embedded import EmbeddedRedis
from streams.ingest.privacy import ViewerPrivacy
from streams.schemas import ChatInsight, Clip, RoomMetrics
from streams.settings import Settings

SECRET = "forget-secret"


@pytest.fixture(scope="module")
def redis_url():
    server = EmbeddedRedis().start()
    yield server.url
    server.stop()


def _insight(room: str, user: str, i: int) -> ChatInsight:
    return ChatInsight(room_id=room, event_id=f"{room}:m{i}:insight", stream_ms=100 * i, message_id=f"m{i}",
                       user_id=user, text=f"message {i}", sentiment="neutral", emotion="neutral", intent="other",
                       confidence=0.5)


async def _fill(redis_url: str, tmp_path, privacy: ViewerPrivacy) -> None:
    """Two rooms written the way the sinks write them: insights of two viewers, metrics, a clip."""
    sink = RedisSink(redis_url, retention=Settings(_env_file=None).privacy.retention_for)
    store = ClipStore(tmp_path / "clips", redis_url)
    try:
        for room in ("room-a", "room-b"):
            alice, bob = privacy.viewer_id("alice", room), privacy.viewer_id("bob", room)
            await sink.write_many([_insight(room, alice if i % 2 else bob, i) for i in range(1, 601)])
            await sink.write(RoomMetrics(room_id=room, event_id=f"{room}:w0", stream_ms=5000, window_start_ms=0,
                                         window_ms=5000, messages=3))
            clip = Clip(room_id=room, stream_ms=9000, clip_id="c1", status="ready", start_ms=0, end_ms=9000)
            store.write_text(room, "c1", "clip.srt", "1\n00:00:00,000 --> 00:00:01,000\nhi\n")
            await store.index(clip)
    finally:
        await sink.close()
        await store.close()


def _cli(args: list[str], redis_url: str, tmp_path):
    from livelens.cli import app

    env = {"LIVELENS_REDIS_URL": redis_url, "LIVELENS_DATA_DIR": str(tmp_path / "var"),
           "LIVELENS_CLIPS__OUT_DIR": str(tmp_path / "clips"), "LIVELENS_SEGMENT_STORE": str(tmp_path / "segments"),
           "LIVELENS_PRIVACY__SECRET": SECRET}
    return CliRunner().invoke(app, ["forget", *args], env=env)


async def test_every_per_room_key_has_a_retention_ttl(redis_url, tmp_path):
    await _fill(redis_url, tmp_path, ViewerPrivacy(SECRET))
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        keys = [k async for k in client.scan_iter(match="livelens:{room-a}:*")]
        assert any(":stream:chat_insight" in k for k in keys) and any(":clip:" in k for k in keys)
        ttls = {k: await client.ttl(k) for k in keys}
        assert all(t > 0 for t in ttls.values()), ttls  # -1 would be a key that never expires
        retention = Settings(_env_file=None).privacy
        assert ttls["livelens:{room-a}:stream:chat_insight"] <= retention.retention_for("stream:chat_insight")
        assert ttls["livelens:{room-a}:state"] > retention.retention_for("stream:chat_insight")
    finally:
        await client.flushdb()
        await client.aclose()


async def test_forget_user_removes_only_that_viewers_entries_in_every_room(redis_url, tmp_path):
    privacy = ViewerPrivacy(SECRET)
    await _fill(redis_url, tmp_path, privacy)
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        result = await asyncio.to_thread(_cli, ["--user", "alice"], redis_url, tmp_path)
        assert result.exit_code == 0, result.output
        assert "forgot viewer 'alice' in every room" in result.output
        for room in ("room-a", "room-b"):
            rows = await client.xrange(f"livelens:{{{room}}}:stream:chat_insight")
            users = {json.loads(f["event"])["user_id"] for _id, f in rows}
            assert users == {privacy.viewer_id("bob", room)} and len(rows) == 300
            state = await client.hgetall(f"livelens:{{{room}}}:state")
            assert "last:chat_insight" not in state or privacy.viewer_id("alice", room) not in state["last:chat_insight"]
            assert "last:room_metrics" in state  # not the viewer's: kept
        assert "300 entries" in result.output
        # one room only: bob's entries elsewhere stay
        result = await asyncio.to_thread(_cli, ["--user", "bob", "--room", "room-a"], redis_url, tmp_path)
        assert result.exit_code == 0, result.output
        assert await client.xlen("livelens:{room-a}:stream:chat_insight") == 0
        assert await client.xlen("livelens:{room-b}:stream:chat_insight") == 300
    finally:
        await client.flushdb()
        await client.aclose()


async def test_forget_room_removes_its_keys_clip_index_and_files(redis_url, tmp_path):
    await _fill(redis_url, tmp_path, ViewerPrivacy(SECRET))
    (tmp_path / "segments" / "room-a").mkdir(parents=True)
    (tmp_path / "segments" / "room-a" / "seg-0.ts").write_bytes(b"media")
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        assert (tmp_path / "clips" / "room-a" / "c1" / "clip.srt").is_file()
        from sinks.decisions import DecisionStore  # an editor's decision on the room's clip

        await DecisionStore(client).record("room-a", "c1", {"decision": "approved"}, {"label": "x"})
        result = await asyncio.to_thread(_cli, ["--room", "room-a"], redis_url, tmp_path)
        assert result.exit_code == 0, result.output
        assert [k async for k in client.scan_iter(match="livelens:{room-a}:*")] == []
        assert "room-a" not in await client.smembers("livelens:rooms")
        assert "room-a" not in await client.smembers("livelens:clips:rooms")
        assert "room-a" not in await client.smembers("livelens:decisions:rooms")
        assert "livelens:{room-a}:decisions" in result.output
        assert not (tmp_path / "clips" / "room-a").exists() and not (tmp_path / "segments" / "room-a").exists()
        assert "livelens:{room-a}:clip:c1" in result.output and "clips/room-a" in result.output
        # the other room is untouched
        assert await client.xlen("livelens:{room-b}:stream:chat_insight") == 600
        assert (tmp_path / "clips" / "room-b" / "c1" / "clip.srt").is_file()
    finally:
        await client.flushdb()
        await client.aclose()


def test_bad_input_is_a_one_line_error(redis_url, tmp_path):
    for args in ([], ["--room", "../etc"]):
        result = _cli(args, redis_url, tmp_path)
        assert result.exit_code != 0 and "Traceback" not in result.output
