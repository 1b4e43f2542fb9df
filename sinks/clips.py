"""Clip index and delivery: every clip event → a per-room Redis index and an optional signed webhook.

Runs as a sink in the worker (``register``: an agent on the ``clips`` topic); the clip files
themselves are written by the clipper processor (:mod:`media.clip_files`).

Redis keys (same ``{room}`` hash tag as :mod:`sinks.redis`, so one room's keys share a slot):

* ``livelens:{room}:clips``             sorted set: member ``clip_id``, score = clip ``start_ms``
                                        (time order; the ranking score is in each clip's hash)
* ``livelens:{room}:clip:<clip_id>``    hash: ``event`` = the Clip event JSON, ``score``,
                                        ``status``, ``start_ms``, ``revision``
* ``livelens:clips:rooms``              set of rooms that have clips

Writes are idempotent by ``clip_id`` and ``revision`` (ZADD + HSET of the same values; a clip is
announced first with its MP4 and ``pending=["vertical"]``, then again as revision 1 with the
vertical variant: the hash keeps the highest revision); a clip that supersedes others
(``Clip.supersedes``) removes them from the index. A held clip (``Clip.hold``: a compliance
violation inside its time range) is indexed but never sent to the webhook.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import redis.asyncio as aioredis

from sinks.redis import PREFIX, room_key
from sinks.webhook import WebhookSender
from media.clip_files import ClipFiles
from streams.observability import SINK_WRITES
from streams.schemas import Clip

log = logging.getLogger(__name__)


def clips_key(room_id: str) -> str:
    return room_key(room_id, "clips")


def clip_key(room_id: str, clip_id: str) -> str:
    return room_key(room_id, "clip", clip_id)


class ClipStore(ClipFiles):
    """Clip folders under ``clips_dir`` plus the Redis index and the optional webhook."""

    def __init__(self, clips_dir: Path | str, redis_url: str | None = None,
                 webhook_url: str | None = None, webhook_secret: str | None = None,
                 retention_s: int = 30 * 24 * 3600):
        super().__init__(clips_dir)
        self.retention_s = retention_s  # the room's clip index keys expire this long after the last write
        self.redis = aioredis.from_url(redis_url, decode_responses=True) if redis_url else None
        self.webhook = WebhookSender(webhook_url, webhook_secret, "clips") if webhook_url else None

    # ---- index + delivery ------------------------------------------------------------------

    async def index(self, clip: Clip) -> None:
        """Add (or refresh) a delivered clip in the room's Redis index; fire the webhook once
        per clip revision (a redelivered event that is already indexed is not announced again,
        and a redelivered older revision never replaces a newer one)."""
        new = True
        if self.redis is not None and clip.status != "skipped":
            room, key = clip.room_id, clip_key(clip.room_id, clip.clip_id)
            # one room is one partition of one sink agent: no other writer between read and write
            stored_rev, stored_event = await self.redis.hmget(key, ["revision", "event"])
            have = int(stored_rev) if stored_rev is not None else (0 if stored_event is not None else -1)
            if have > clip.revision:
                SINK_WRITES.labels("clips", "stale").inc()
                return
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zadd(clips_key(room), {clip.clip_id: clip.start_ms})
                pipe.hset(key, mapping={
                    "event": clip.model_dump_json(), "score": str(clip.score),
                    "status": clip.status, "start_ms": str(clip.start_ms), "revision": str(clip.revision)})
                pipe.sadd(f"{PREFIX}:clips:rooms", room)
                pipe.expire(clips_key(room), self.retention_s)
                pipe.expire(key, self.retention_s)
                await pipe.execute()
            for old in clip.supersedes:
                await self.unindex(room, old)
            new = clip.revision > have
            SINK_WRITES.labels("clips", "indexed" if new else "duplicate").inc()
        if self.webhook is not None and new:
            if clip.hold:  # a compliance violation inside: a person reviews it, nothing publishes it
                SINK_WRITES.labels("webhook:clips", "held").inc()
            else:
                self.webhook.submit(clip.to_bytes())  # background task: never blocks the stream

    async def unindex(self, room_id: str, clip_id: str) -> None:
        """Drop a clip a better one superseded."""
        if self.redis is not None:
            await self.redis.zrem(clips_key(room_id), clip_id)
            await self.redis.delete(clip_key(room_id, clip_id))

    async def list(self, room_id: str, limit: int = 100, order: str = "start") -> list[dict]:
        """Clip events of a room: latest first (``order="start"``) or best first (``"score"``)."""
        if self.redis is None:
            return []
        return await list_clips(self.redis, room_id, limit, order)

    async def close(self) -> None:
        if self.webhook is not None:
            await self.webhook.close()
        if self.redis is not None:
            await self.redis.aclose()


async def list_clips(client: aioredis.Redis, room_id: str, limit: int = 100, order: str = "start") -> list[dict]:
    """Same as :meth:`ClipStore.list`, with a caller's Redis client (the API's)."""
    ids = await client.zrevrange(clips_key(room_id), 0, -1 if order == "score" else limit - 1)
    out = []
    for clip_id in ids:
        raw = await client.hget(clip_key(room_id, clip_id), "event")
        if raw:
            out.append(json.loads(raw if isinstance(raw, str) else raw.decode()))
    if order == "score":
        out.sort(key=lambda c: -float(c.get("score", 0.0)))
    return out[:limit]


def register(ctx) -> None:
    """Worker wiring: the ``clips`` topic → the Redis clip index and the optional webhook."""
    from streams.schemas import DecodeError, decode_event

    s = ctx.settings
    store = ClipStore(s.clips_dir, ctx.redis_url, s.clips.webhook_url,
                      s.clips.webhook_secret.get_secret_value() if s.clips.webhook_secret else None,
                      retention_s=s.privacy.retention_for("clips"))

    @ctx.app.agent(ctx.topic("clips"), name=f"{s.app_id}.sink-clips")
    async def clips_sink(stream):
        async for raw in stream:
            try:
                clip = decode_event(raw, allowed=(Clip,), max_bytes=s.max_event_bytes * 4)
            except DecodeError as exc:  # outputs are ours; a bad one is a bug, never a crash
                log.error("clips sink: undecodable clip event: %s", exc.reason)
                SINK_WRITES.labels("clips", "rejected").inc()
                continue
            await store.index(clip)
