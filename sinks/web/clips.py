"""Clip API: list a room's clips from the Redis index, serve the clip files. Token required.

* ``GET /api/rooms/{room}/clips?limit=100&order=start|score`` -> Clip events (latest or best first)
* ``GET /clips/{room}/{clip_id}/{file}`` -> one of clip.mp4, vertical.mp4, clip.srt, clip.vtt,
  thumb.jpg, meta.json (any other name, or a room/clip id that is not a plain identifier, is a 404:
  nothing outside ``settings.clips_dir`` can be reached)

The editors' desk (decisions are files beside each clip, :mod:`media.desk`):

* ``GET  /api/rooms/{room}/desk`` -> the room's clips with their decision (pending/approved/rejected) and trim
* ``POST /api/rooms/{room}/clips/{clip_id}/approve`` / ``.../reject`` (JSON ``{"reason": ""}``, optional)
* ``POST /api/rooms/{room}/clips/{clip_id}/trim`` (JSON ``{"start_ms": .., "end_ms": ..}``, clip time;
  snapped to subtitle cue boundaries; the answer says where it landed)
* ``POST /api/rooms/{room}/clips/{clip_id}/render?platform=P`` -> (re-)render for one platform; its meta.json
* ``GET  /api/rooms/{room}/export?platform=P&approved=true`` -> a zip of the renders + metadata.csv
"""

from __future__ import annotations

from typing import Any, Callable

import tempfile

from fastapi import Body, Depends, FastAPI, HTTPException, Query
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from sinks.clips import list_clips
from media.clip_files import CLIP_FILES, ClipFiles, check_clip_id
from sinks.redis import RedisSink
from media.segment_store import check_room_id

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

    @app.get("/api/rooms/{room_id}/clips/{clip_id}/files/{role}", dependencies=secured)
    async def clip_role_file(room_id: str, clip_id: str, role: str):
        """A file by its role in ``Clip.files`` (``mp4``, ``render:douyin``, ``render:douyin:cover``,
        ...); a platform render only once it is finished."""
        _check_ids(room_id, clip_id)
        try:
            path = ClipFiles(root).role_path(room_id, clip_id, role)
        except ValueError:
            raise HTTPException(404, "no such clip file") from None
        if path is None or root not in path.resolve().parents:
            raise HTTPException(404, "no such clip file (or not finished yet)")
        return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"))


def register_desk_routes(app: FastAPI, settings, require_token: Callable) -> None:
    """Approve / reject / trim / render / export (see the module docstring)."""
    from media.desk import Desk, DeskError
    from media.platforms import ProfileError, load_profile
    from media.render import RenderError

    secured = [Depends(require_token)]
    desk = Desk(settings.clips_dir)

    def entry_json(entry) -> dict:
        return {"clip_id": entry.clip_id, "status": entry.status, "decision": entry.decision,
                "title": entry.meta.get("title", ""), "label": entry.meta.get("label", ""),
                "transcript": entry.meta.get("transcript", ""), "score": entry.meta.get("score", 0.0),
                "start_ms": entry.meta.get("start_ms"), "end_ms": entry.meta.get("end_ms"),
                "renders": sorted(p.name for p in (entry.folder / "renders").iterdir()
                                  if (p / "meta.json").is_file()) if (entry.folder / "renders").is_dir() else []}

    def guarded(fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except DeskError as exc:
            raise HTTPException(404 if str(exc).startswith(("no clip", "invalid")) else 400, str(exc)) from None
        except ProfileError as exc:
            raise HTTPException(400, str(exc)) from None
        except RenderError as exc:
            raise HTTPException(422, str(exc)) from None

    @app.get("/api/rooms/{room_id}/desk", dependencies=secured)
    async def desk_list(room_id: str):
        _check_ids(room_id)
        return [entry_json(e) for e in guarded(desk.clips, room_id)]

    @app.post("/api/rooms/{room_id}/clips/{clip_id}/approve", dependencies=secured)
    async def approve(room_id: str, clip_id: str, body: dict | None = Body(None)):
        _check_ids(room_id, clip_id)
        return guarded(desk.decide, room_id, clip_id, "approved", str((body or {}).get("reason", "")))

    @app.post("/api/rooms/{room_id}/clips/{clip_id}/reject", dependencies=secured)
    async def reject(room_id: str, clip_id: str, body: dict | None = Body(None)):
        _check_ids(room_id, clip_id)
        return guarded(desk.decide, room_id, clip_id, "rejected", str((body or {}).get("reason", "")))

    @app.post("/api/rooms/{room_id}/clips/{clip_id}/trim", dependencies=secured)
    async def trim(room_id: str, clip_id: str, body: dict = Body(...)):
        _check_ids(room_id, clip_id)
        try:
            start_ms, end_ms = int(body["start_ms"]), int(body["end_ms"])
        except (KeyError, TypeError, ValueError):
            raise HTTPException(400, "trim needs integer start_ms and end_ms (clip time)") from None
        return guarded(desk.trim, room_id, clip_id, start_ms, end_ms)

    @app.post("/api/rooms/{room_id}/clips/{clip_id}/render", dependencies=secured)
    async def render(room_id: str, clip_id: str, platform: str = Query(..., pattern=r"^[a-z][a-z0-9_]*$")):
        _check_ids(room_id, clip_id)
        profile = guarded(load_profile, platform)
        folder = await run_in_threadpool(guarded, desk.render, room_id, clip_id, profile, force=True)
        import json

        return json.loads((folder / "meta.json").read_text(encoding="utf-8"))

    @app.get("/api/rooms/{room_id}/export", dependencies=secured)
    async def export(room_id: str, platform: str = Query(..., pattern=r"^[a-z][a-z0-9_]*$"),
                     approved: bool = Query(True)):
        _check_ids(room_id)
        profile = guarded(load_profile, platform)
        work = tempfile.TemporaryDirectory(prefix="livelens-export-")
        try:
            path, _rows = await run_in_threadpool(guarded, desk.export, room_id, profile, work.name,
                                                  approved_only=approved)
        except BaseException:
            work.cleanup()
            raise
        return FileResponse(path, media_type="application/zip", filename=path.name,
                            background=BackgroundTask(work.cleanup))


def _check_ids(room_id: str, clip_id: str | None = None) -> None:
    try:
        check_room_id(room_id)
        if clip_id is not None:
            check_clip_id(clip_id)
    except ValueError:
        raise HTTPException(404, "no such room or clip") from None
