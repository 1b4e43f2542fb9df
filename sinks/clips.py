"""Clip store: clip files on disk, a per-room Redis index, an optional signed webhook.

Files, one folder per clip (``clip_id`` is deterministic, so a re-cut after a crash overwrites
the same folder; every file is written to a temporary name and renamed)::

    <clips_dir>/<room_id>/<clip_id>/clip.mp4       H.264 + AAC, the source's size
                                    vertical.mp4   9:16 crop (on the host's face when known)
                                    clip.srt       subtitles, times relative to the clip start
                                    clip.vtt
                                    thumb.jpg      the middle frame
                                    meta.json      room, category, label, title, transcript,
                                                   start/end (stream ms), score, status, files

Redis keys (same ``{room}`` hash tag as :mod:`sinks.redis`, so one room's keys share a slot):

* ``livelens:{room}:clips``             sorted set: member ``clip_id``, score = clip ``start_ms``
                                        (time order; the ranking score is in each clip's hash)
* ``livelens:{room}:clip:<clip_id>``    hash: ``event`` = the Clip event JSON, ``score``,
                                        ``status``, ``start_ms``
* ``livelens:clips:rooms``              set of rooms that have clips

Writes are idempotent by ``clip_id`` (ZADD + HSET of the same values). Files are served by
:mod:`sinks.web.clips` under ``/clips/<room>/<clip_id>/<file>``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path

import redis.asyncio as aioredis

from sinks.redis import PREFIX, room_key
from sinks.webhook import WebhookSender
from streams.observability import SINK_WRITES
from streams.schemas import Clip
from streams.segment_store import check_room_id

log = logging.getLogger(__name__)

#: role in ``Clip.files`` -> file name inside the clip folder. Nothing else is ever served.
CLIP_FILES: dict[str, str] = {
    "mp4": "clip.mp4", "vertical": "vertical.mp4", "srt": "clip.srt", "vtt": "clip.vtt",
    "thumb": "thumb.jpg", "meta": "meta.json",
}
_CLIP_ID_RE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


def check_clip_id(clip_id: str) -> str:
    if not isinstance(clip_id, str) or not _CLIP_ID_RE.match(clip_id):
        raise ValueError(f"invalid clip_id: {clip_id!r}")
    return clip_id


def clips_key(room_id: str) -> str:
    return room_key(room_id, "clips")


def clip_key(room_id: str, clip_id: str) -> str:
    return room_key(room_id, "clip", clip_id)


def file_url(room_id: str, clip_id: str, name: str) -> str:
    """The API path that serves one clip file (token required)."""
    return f"/clips/{room_id}/{clip_id}/{name}"


class ClipStore:
    """Clip folders under ``clips_dir`` plus the Redis index and the optional webhook."""

    def __init__(self, clips_dir: Path | str, redis_url: str | None = None,
                 webhook_url: str | None = None, webhook_secret: str | None = None):
        self.root = Path(clips_dir)
        self.redis = aioredis.from_url(redis_url, decode_responses=True) if redis_url else None
        self.webhook = WebhookSender(webhook_url, webhook_secret, "clips") if webhook_url else None

    # ---- files ---------------------------------------------------------------------------

    def clip_dir(self, room_id: str, clip_id: str) -> Path:
        return self.root / check_room_id(room_id) / check_clip_id(clip_id)

    def path(self, room_id: str, clip_id: str, name: str) -> Path:
        """A servable file's path; ``ValueError`` for any name that is not a clip file."""
        if name not in CLIP_FILES.values():
            raise ValueError(f"not a clip file: {name!r}")
        return self.clip_dir(room_id, clip_id) / name

    def write_text(self, room_id: str, clip_id: str, name: str, text: str) -> Path:
        path = self.path(room_id, clip_id, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{name}.{os.getpid()}.part")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        return path

    def files_of(self, room_id: str, clip_id: str) -> dict[str, str]:
        """role -> API path, for the files that exist."""
        folder = self.clip_dir(room_id, clip_id)
        return {role: file_url(room_id, clip_id, name) for role, name in CLIP_FILES.items()
                if (folder / name).is_file() or role == "meta"}

    def write_meta(self, clip: Clip) -> Path:
        meta = {
            "room_id": clip.room_id, "clip_id": clip.clip_id, "status": clip.status, "reason": clip.reason,
            "category": clip.category, "label": clip.label, "title": clip.title,
            "transcript": clip.transcript, "start_ms": clip.start_ms, "end_ms": clip.end_ms,
            "duration_ms": clip.end_ms - clip.start_ms, "score": clip.score, "files": clip.files,
        }
        return self.write_text(clip.room_id, clip.clip_id, CLIP_FILES["meta"],
                               json.dumps(meta, ensure_ascii=False, indent=2))

    def remove(self, room_id: str, clip_id: str) -> None:
        shutil.rmtree(self.clip_dir(room_id, clip_id), ignore_errors=True)

    # ---- index + delivery ------------------------------------------------------------------

    async def index(self, clip: Clip) -> None:
        """Add (or refresh) a delivered clip in the room's Redis index; fire the webhook once
        per clip (a redelivered clip that is already indexed is not announced again)."""
        new = True
        if self.redis is not None and clip.status != "skipped":
            room = clip.room_id
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zadd(clips_key(room), {clip.clip_id: clip.start_ms})
                pipe.hset(clip_key(room, clip.clip_id), mapping={
                    "event": clip.model_dump_json(), "score": str(clip.score),
                    "status": clip.status, "start_ms": str(clip.start_ms)})
                pipe.sadd(f"{PREFIX}:clips:rooms", room)
                added, *_ = await pipe.execute()
            new = bool(added)
            SINK_WRITES.labels("clips", "indexed" if new else "duplicate").inc()
        if self.webhook is not None and new:
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
