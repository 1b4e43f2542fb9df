"""Clip API: list a room's clips from the Redis index, serve the clip files. Token required.

* ``GET /api/rooms/{room}/clips?limit=100&order=start|score`` -> Clip events (latest or best first)
* ``GET /clips/{room}/{clip_id}/{file}`` -> one of clip.mp4, vertical.mp4, clip.srt, clip.vtt,
  thumb.jpg, meta.json (any other name, or a room/clip id that is not a plain identifier, is a 404:
  nothing outside ``settings.clips_dir`` can be reached)
"""

from __future__ import annotations

from typing import Any, Callable

from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.responses import FileResponse

from sinks.clips import list_clips
from streams.clip_files import CLIP_FILES, check_clip_id
from sinks.redis import RedisSink
from streams.segment_store import check_room_id

MEDIA_TYPES = {".mp4": "video/mp4", ".srt": "application/x-subrip; charset=utf-8",
               ".vtt": "text/vtt; charset=utf-8", ".jpg": "image/jpeg", ".json": "application/json"}


def register_clip_routes(app: FastAPI, settings, require_token: Callable, get_redis: Callable[[], Any]) -> None:
    """``get_redis()`` returns a redis.asyncio client, or a :class:`sinks.redis.RedisSink`."""
    secured = [Depends(require_token)]
    root = settings.clips_dir.resolve()

    @app.get("/api/rooms/{room_id}/clips", dependencies=secured)
    async def room_clips(room_id: str, limit: int = Query(100, ge=1, le=1000),
                         order: str = Query("start", pattern="^(start|score)$")):
        _check_ids(room_id)
        redis = get_redis()
        client = redis.client if isinstance(redis, RedisSink) else redis
        return await list_clips(client, room_id, limit, order)

    @app.get("/clips/{room_id}/{clip_id}/{name}", dependencies=secured)
    async def clip_file(room_id: str, clip_id: str, name: str):
        _check_ids(room_id, clip_id)
        if name not in CLIP_FILES.values():
            raise HTTPException(404, "no such clip file")
        path = (root / room_id / clip_id / name).resolve()
        if root not in path.parents or not path.is_file():
            raise HTTPException(404, "no such clip file")
        return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"))


def _check_ids(room_id: str, clip_id: str | None = None) -> None:
    try:
        check_room_id(room_id)
        if clip_id is not None:
            check_clip_id(clip_id)
    except ValueError:
        raise HTTPException(404, "no such room or clip") from None
