"""Clip API: list a room's clips from the Redis index, serve the clip files. Token required.

* ``GET /api/rooms/{room}/clips?limit=100&order=start|score`` -> Clip events (latest or best first)
* ``GET /clips/{room}/{clip_id}/{file}`` -> one of clip.mp4, vertical.mp4, clip.srt, clip.vtt,
  thumb.jpg, meta.json (any other name, or a room/clip id that is not a plain identifier, is a 404:
  nothing outside ``settings.clips_dir`` can be reached)

The editors' desk (decisions are files beside each clip, :mod:`media.desk`):

* ``GET  /dashboard/desk`` (room picker) and ``/dashboard/desk/{room}`` -> the desk page (static/desk.html)
* ``GET  /api/desk/rooms`` -> rooms with clips, and how many are pending / approved
* ``GET  /api/platforms`` -> the platform profiles (media/profiles/*.yaml): name, display name, languages
* ``GET  /api/rooms/{room}/desk`` -> the room's clips as a queue (pending first, best-ranked first) with
  their decision, trim, subtitle cues, compliance flags and rank (:mod:`models.clips.ranking`
  fitted from the stored decisions once there are ``LIVELENS_DESK_RANKING_MIN_DECISIONS``)
* ``POST /api/rooms/{room}/clips/{clip_id}/approve`` / ``.../reject`` (JSON ``{"reason": ""}``, optional);
  also stored in Redis with the clip's features (:mod:`sinks.decisions`) for the ranking
* ``POST /api/rooms/{room}/clips/{clip_id}/trim`` (JSON ``{"start_ms": .., "end_ms": ..}``, clip time;
  snapped to a sentence (subtitle cue) boundary when one is near, else to a word boundary of the
  room's final transcripts (Redis); the answer says where it landed)
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


def register_desk_routes(app: FastAPI, settings, require_token: Callable, get_redis: Callable[[], Any] | None = None,
                         *, require_page: Callable | None = None) -> None:
    """The desk's pages and API (see the module docstring). ``get_redis()`` (a redis.asyncio client
    or a :class:`RedisSink`) stores decisions for the ranking; without it they are files only."""
    import json

    from media.desk import Desk, DeskError
    from media.platforms import ProfileError, available_profiles, load_profile
    from media.render import RenderError
    from models.clips.ranking import ApprovalModel, ClipFeatures, rank
    from models.clips.subtitles import is_cjk
    from sinks.decisions import DecisionStore
    from sinks.redis import room_key
    from sinks.web.dashboard import page

    secured = [Depends(require_token)]
    page_secured = [Depends(require_page or require_token)]
    desk = Desk(settings.clips_dir)
    cached: dict[str, Any] = {"version": None, "model": None}

    def redis_client():
        if get_redis is None:
            return None
        redis = get_redis()
        return redis.client if isinstance(redis, RedisSink) else redis

    def decision_store() -> DecisionStore | None:
        client = redis_client()
        return DecisionStore(client, settings.privacy.retention_for("clips")) if client is not None else None

    async def approval_model() -> ApprovalModel | None:
        """Refitted from every stored decision whenever one was added (a few ms for thousands)."""
        store = decision_store()
        if store is None:
            return None
        version = await store.version()
        if version != cached["version"]:
            rows = await store.all()
            cached["model"] = ApprovalModel.fit([ClipFeatures.from_dict(r["features"]) for r in rows],
                                                [r["decision"] == "approved" for r in rows],
                                                min_decisions=settings.desk_ranking_min_decisions)
            cached["version"] = version
        return cached["model"]

    async def metric_windows(room_id: str) -> list[dict]:
        """The room's stored room_metrics windows (the Redis sink's stream), newest first."""
        client = redis_client()
        if client is None:
            return []
        rows = await client.xrevrange(room_key(room_id, "stream", "room_metrics"), count=5000)
        return [json.loads(fields["event"]) for _id, fields in rows]

    async def clip_words(room_id: str, meta: dict) -> list:
        """The final transcripts' timed words inside the clip, in clip time (none without Redis)."""
        from models.clips.subtitles import TimedWord

        client = redis_client()
        if client is None:
            return []
        start, end = int(meta.get("start_ms", 0)), int(meta.get("end_ms", 0))
        rows = await client.xrevrange(room_key(room_id, "stream", "transcript"), count=5000)
        words = set()
        for _id, fields in rows:
            event = json.loads(fields["event"])
            if event.get("is_final") and event.get("start_ms", 0) < end and event.get("end_ms", 0) > start:
                words |= {(w["start_ms"] - start, w["end_ms"] - start, w["text"]) for w in event.get("words") or []
                          if start <= w["start_ms"] and w["end_ms"] <= end}
        return [TimedWord(*w) for w in sorted(words)]

    def engagement(windows: list[dict], meta: dict) -> dict:
        """Mean chat rate and orders per minute over the metric windows the clip overlaps."""
        start, end = int(meta.get("start_ms", 0)), int(meta.get("end_ms", 0))
        hit = [w for w in windows if w.get("window_start_ms", 0) < end
               and w.get("window_start_ms", 0) + w.get("window_ms", 0) > start]
        if not hit:
            return {}
        return {k: sum(float(w.get(k) or 0) for w in hit) / len(hit) for k in ("messages_per_s", "orders_per_min")}

    def entry_json(entry, rank_value: float, ranked_by: str) -> dict:
        files = {name: f"/clips/{entry.room_id}/{entry.clip_id}/{name}"
                 for name in ("clip.mp4", "thumb.jpg") if (entry.folder / name).is_file()}
        return {"clip_id": entry.clip_id, "status": entry.status, "decision": entry.decision,
                "title": entry.meta.get("title", ""), "label": entry.meta.get("label", ""),
                "label_name": _label_name(entry.meta), "category": entry.meta.get("category", ""),
                "transcript": entry.meta.get("transcript", ""), "score": entry.meta.get("score", 0.0),
                "rank": round(rank_value, 4), "ranked_by": ranked_by,
                "start_ms": entry.meta.get("start_ms"), "end_ms": entry.meta.get("end_ms"),
                "duration_ms": int(entry.meta.get("end_ms", 0)) - int(entry.meta.get("start_ms", 0)),
                "hold": bool(entry.meta.get("hold")), "compliance": entry.meta.get("compliance") or [],
                "language": "zh" if is_cjk(entry.meta.get("transcript", "") + entry.meta.get("title", "")) else "en",
                "files": files,
                "cues": [{"start_ms": c.start_ms, "end_ms": c.end_ms, "text": c.text}
                         for c in desk.cues(entry.room_id, entry.clip_id)],
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

    async def decided(room_id: str, clip_id: str, decision: str, body: dict | None) -> dict:
        _check_ids(room_id, clip_id)
        result = guarded(desk.decide, room_id, clip_id, decision, str((body or {}).get("reason", "")))
        store = decision_store()
        if store is not None:
            meta = desk.clip(room_id, clip_id).meta
            features = ClipFeatures.from_meta(meta, engagement(await metric_windows(room_id), meta))
            await store.record(room_id, clip_id, result, features.to_dict())
        return result

    @app.get("/dashboard/desk", dependencies=page_secured, include_in_schema=False)
    async def desk_picker():
        return page("desk.html")

    @app.get("/dashboard/desk/{room_id}", dependencies=page_secured, include_in_schema=False)
    async def desk_page(room_id: str):
        _check_ids(room_id)
        return page("desk.html")

    @app.get("/api/platforms", dependencies=secured)
    async def platforms():
        out = []
        for name in available_profiles():
            profile = guarded(load_profile, name)
            out.append({"name": profile.name, "display_name": profile.display_name, "languages": profile.languages,
                        "width": profile.video.width, "height": profile.video.height,
                        "min_s": profile.duration.min_s, "max_s": profile.duration.max_s})
        return out

    @app.get("/api/desk/rooms", dependencies=secured)
    async def desk_rooms():
        """Rooms with clip folders, and how many clips each has waiting (the room picker)."""
        root = desk.root
        rooms = []
        for folder in sorted(root.iterdir()) if root.is_dir() else []:
            try:
                clips = desk.clips(folder.name)
            except DeskError:
                continue
            if clips:
                rooms.append({"room_id": folder.name, "clips": len(clips),
                              "pending": sum(c.status == "pending" for c in clips),
                              "approved": sum(c.status == "approved" for c in clips)})
        return rooms

    @app.get("/api/rooms/{room_id}/desk", dependencies=secured)
    async def desk_list(room_id: str):
        """The room's clips as a queue: pending first, best-ranked first (editors' decisions once
        there are enough of them, else the clipper's score), then the decided ones."""
        _check_ids(room_id)
        entries = guarded(desk.clips, room_id)
        model = await approval_model()
        windows = await metric_windows(room_id) if model is not None else []  # only a fitted model uses them
        features = [ClipFeatures.from_meta(e.meta, engagement(windows, e.meta)) for e in entries]
        ranks = rank(features, model)
        ranked_by = f"decisions ({model.n_decisions})" if model is not None else "clip score"
        rows = [entry_json(e, r, ranked_by) for e, r in zip(entries, ranks)]
        return sorted(rows, key=lambda r: (r["status"] != "pending", -r["rank"], r["start_ms"] or 0))

    @app.post("/api/rooms/{room_id}/clips/{clip_id}/approve", dependencies=secured)
    async def approve(room_id: str, clip_id: str, body: dict | None = Body(None)):
        return await decided(room_id, clip_id, "approved", body)

    @app.post("/api/rooms/{room_id}/clips/{clip_id}/reject", dependencies=secured)
    async def reject(room_id: str, clip_id: str, body: dict | None = Body(None)):
        return await decided(room_id, clip_id, "rejected", body)

    @app.post("/api/rooms/{room_id}/clips/{clip_id}/trim", dependencies=secured)
    async def trim(room_id: str, clip_id: str, body: dict = Body(...)):
        _check_ids(room_id, clip_id)
        try:
            start_ms, end_ms = int(body["start_ms"]), int(body["end_ms"])
        except (KeyError, TypeError, ValueError):
            raise HTTPException(400, "trim needs integer start_ms and end_ms (clip time)") from None
        words = await clip_words(room_id, guarded(desk.clip, room_id, clip_id).meta)
        return guarded(desk.trim, room_id, clip_id, start_ms, end_ms, words)

    @app.post("/api/rooms/{room_id}/clips/{clip_id}/render", dependencies=secured)
    async def render(room_id: str, clip_id: str, platform: str = Query(..., pattern=r"^[a-z][a-z0-9_]*$")):
        _check_ids(room_id, clip_id)
        profile = guarded(load_profile, platform)
        folder = await run_in_threadpool(guarded, desk.render, room_id, clip_id, profile, force=True)
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


def _label_name(meta: dict) -> dict:
    """The selling-point class's names in both languages (the page shows the room's)."""
    label = meta.get("label") or ""
    try:
        from models.taxonomy import load_taxonomy

        cls = load_taxonomy(meta.get("category") or "apparel").get(label)
        return {"zh": cls.name_zh, "en": cls.name_en}
    except Exception:  # noqa: BLE001 - an unknown category/label: the label itself reads fine
        return {"zh": label, "en": label.replace("_", " ")}


def _check_ids(room_id: str, clip_id: str | None = None) -> None:
    try:
        check_room_id(room_id)
        if clip_id is not None:
            check_clip_id(clip_id)
    except ValueError:
        raise HTTPException(404, "no such room or clip") from None
