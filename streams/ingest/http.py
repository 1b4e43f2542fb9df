"""HTTP ingest for live chat and commerce feeds (token-protected, size- and rate-limited).

``POST /ingest/{room_id}`` with a JSON object or JSON lines, one event per line::

    {"kind": "chat", "user_id": "u1", "user_name": "Ann", "text": "多少钱"}
    {"kind": "commerce", "type": "order", "count": 1, "amount": 129.0, "product_id": "dress-01"}

Optional per event: ``stream_ms`` (else: milliseconds since this room's first HTTP event or
``POST /ingest/{room_id}/start``, whose optional JSON body ``{"language": "zh"}`` declares the
room's language: zh, en or auto). Every rejected line gets its reason in the response (HTTP
422 if nothing was accepted) and is kept on the dead-letter topic.
``POST /ingest/{room_id}/end`` ends the room's chat and commerce streams.

While a room is live, a watermark goes onto its chat and commerce topics every second, so
windowed processors close windows on time even when the room is quiet.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import ValidationError

from streams.ingest.edge import TOPIC_FOR_KIND, EdgeReject, parse_edge_line
from streams.ingest.publisher import Publisher
from streams.schemas import ChatMessage, loads_strict, parse_room_language
from streams.security import RateLimiter

HTTP_TOPICS = ("chat", "commerce")


class HttpIngest:
    def __init__(self, publisher: Publisher, max_body_bytes: int, rate_per_s: float,
                 watermark_slack_ms: int = 1000, idle_room_s: float = 300.0):
        self.publisher = publisher
        self.max_body_bytes = max_body_bytes
        self.limiter = RateLimiter(rate_per_s)
        self.room_start: dict[str, float] = {}   # room -> wall clock of its stream start
        self.room_active: dict[str, float] = {}  # room -> wall clock of its last event
        self.slack_ms = watermark_slack_ms
        self.idle_room_s = idle_room_s
        self._task: asyncio.Task | None = None

    def stream_ms(self, room_id: str) -> int:
        start = self.room_start.setdefault(room_id, time.time())
        return int((time.time() - start) * 1000)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._watermarks())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _watermarks(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            now = time.time()
            for room, last in list(self.room_active.items()):
                if now - last > self.idle_room_s:
                    self.room_active.pop(room, None)
                    continue
                wm = self.stream_ms(room) - self.slack_ms
                if wm >= 0:
                    await self.publisher.marker(room, "watermark", wm, source="http")

    async def ingest(self, room_id: str, body: bytes) -> dict:
        accepted, rejects = 0, []
        lines = body.splitlines() or [b""]
        for line_no, line in enumerate(lines, 1):
            if not line.strip():
                continue
            reason = await self._one(room_id, line)
            if reason is None:
                accepted += 1
            else:
                rejects.append({"line": line_no, "reason": reason})
                await self.publisher.reject(line, reason, "http", room_id)
        if accepted:
            self.room_active[room_id] = time.time()
        return {"accepted": accepted, "rejected": rejects}

    async def _one(self, room_id: str, line: bytes) -> str | None:
        """Publish one line (the edge's one strict parser); the reason if it was rejected."""
        try:
            event = parse_edge_line(line, room_id, default_stream_ms=lambda: self.stream_ms(room_id))
        except EdgeReject as exc:
            return str(exc)
        await self.publisher.publish(TOPIC_FOR_KIND[event.kind], event)
        return None


def _declared_language(body: bytes) -> str:
    """The ``language`` of a start call's optional JSON body ("" if none); 400 with the reason if bad."""
    if not body.strip():
        return ""
    try:
        obj = loads_strict(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(400, "start: the body must be a JSON object such as {\"language\": \"zh\"}") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("language", ""), str):
        raise HTTPException(400, "start: the body must be a JSON object such as {\"language\": \"zh\"}")
    try:
        return parse_room_language(obj.get("language", "")) if obj.get("language") else ""
    except ValueError as exc:
        raise HTTPException(400, f"start: {exc}") from None


def create_ingest_router(get_ingest, require_token) -> APIRouter:
    router = APIRouter(prefix="/ingest", tags=["ingest"], dependencies=[Depends(require_token)])

    async def _body(request: Request, ingest: HttpIngest) -> bytes:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > ingest.max_body_bytes:
            raise HTTPException(413, f"body over {ingest.max_body_bytes} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > ingest.max_body_bytes:
                raise HTTPException(413, f"body over {ingest.max_body_bytes} bytes")
        return bytes(body)

    def _room(room_id: str) -> str:
        try:
            ChatMessage(room_id=room_id, stream_ms=0, user_id="x", text="")
        except ValidationError:
            raise HTTPException(400, "room_id: 1-128 characters of A-Z a-z 0-9 _ . : -") from None
        return room_id

    @router.post("/{room_id}")
    async def ingest_events(room_id: str, request: Request):
        ingest: HttpIngest = get_ingest()
        room_id = _room(room_id)
        client = request.client.host if request.client else "?"
        if not ingest.limiter.allow(f"{client}:{room_id}"):
            raise HTTPException(429, "rate limit exceeded")
        result = await ingest.ingest(room_id, await _body(request, ingest))
        if result["accepted"] == 0:
            raise HTTPException(422, result)
        return result

    @router.post("/{room_id}/start")
    async def start_room(room_id: str, request: Request):
        ingest: HttpIngest = get_ingest()
        room_id = _room(room_id)
        language = _declared_language(await _body(request, ingest))
        ingest.room_start[room_id] = time.time()
        ingest.room_active[room_id] = time.time()
        await ingest.publisher.marker(room_id, "start", 0, source="http", language=language)
        return {"room_id": room_id, "stream_ms": 0, "language": language}

    @router.post("/{room_id}/end")
    async def end_room(room_id: str):
        ingest: HttpIngest = get_ingest()
        room_id = _room(room_id)
        ms = ingest.stream_ms(room_id)
        ingest.room_active.pop(room_id, None)
        await ingest.publisher.marker(room_id, "end", ms, source="http")
        return {"room_id": room_id, "stream_ms": ms}

    return router
