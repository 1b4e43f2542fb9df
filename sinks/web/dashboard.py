"""The ops dashboard: two token-protected pages, a room-health JSON and a Server-Sent Events feed.

* ``GET /dashboard``                 all rooms with live health (red / amber / green)
* ``GET /dashboard/room/{room}``     one room: sparklines, transcript, selling points, alerts,
                                     clips, recommendations, chat
* ``GET /dashboard/prompter/{room}`` the host prompter: a phone/tablet page beside the camera
                                     (large type: what to explain next, the top question, the
                                     promotion countdown, compliance warnings)
* ``GET /api/dashboard/rooms``       the health rows the overview page draws
* ``GET /api/stream?room=&kinds=``   SSE relay of the Redis pub/sub channels the Redis sink
                                     publishes each new event on (``livelens:{room}:events``, or
                                     ``livelens:events`` for all rooms)
* ``/dashboard/static/*``            plain HTML/JS/CSS (no build step, nothing loaded from outside;
                                     code only, so served without the token)

Pages are opened after signing in once (:mod:`sinks.web.auth`): the browser then holds an
HttpOnly session cookie that the API, SSE and clip-file requests carry by themselves; no token
ever appears in a page URL. Untrusted text (chat, transcript, titles) is rendered with ``textContent``
only, in static/dashboard.js.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from sinks.redis import PREFIX, RedisSink, room_key
from streams.schemas import EVENT_TYPES

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("static")
ROOM_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")  # same rule as streams.schemas.RoomId
OPEN_ALERT_STATES = ("open", "updated")


# ---------------------------------------------------------------- room health (pure)


def fold_alerts(alerts_latest_first: list[dict]) -> dict[str, dict]:
    """Latest alert per dedup key (input newest first, as the Redis stream is read)."""
    latest: dict[str, dict] = {}
    for alert in alerts_latest_first:
        latest.setdefault(alert.get("dedup_key", ""), alert)
    return latest


def last_update_at(state: dict[str, str]) -> float | None:
    """Wall clock (Unix s) of the newest event written for the room, from the state hash."""
    newest: float | None = None
    for field, value in state.items():
        if not field.startswith("last:") or field.endswith(":stream_ms"):
            continue
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            event = json.loads(value)
            at = float(event.get("emitted_at") or event.get("ingested_at") or 0)
            if at > 0 and (newest is None or at > newest):
                newest = at
    return newest


def room_health(room_id: str, state: dict[str, str], alerts_latest_first: list[dict], now: float,
                stale_warn_s: float, stale_crit_s: float) -> dict[str, Any]:
    """One overview row: live figures plus a status from open alerts and staleness.

    red: an open critical alert, or no event for ``stale_crit_s``; amber: an open warning, or
    no event for ``stale_warn_s``; green otherwise; "ended" once the stream's final window is in.
    """
    open_alerts = [a for a in fold_alerts(alerts_latest_first).values() if a.get("state") in OPEN_ALERT_STATES]
    updated_at = last_update_at(state)
    age_s = None if updated_at is None else max(0.0, now - updated_at)
    ended = state.get("ended") == "1"
    severities = {a.get("severity") for a in open_alerts}
    reasons: list[str] = []
    if "critical" in severities:
        reasons.append("critical alert open")
    if not ended and (age_s is None or age_s > stale_crit_s):
        reasons.append("no data" if age_s is None else f"stale {age_s:.0f} s")
    if reasons:
        status = "red"
    else:
        if "warning" in severities:
            reasons.append("warning alert open")
        if not ended and age_s is not None and age_s > stale_warn_s:
            reasons.append(f"stale {age_s:.0f} s")
        status = "amber" if reasons else ("ended" if ended else "green")

    def number(field: str, cast=float):
        with contextlib.suppress(KeyError, ValueError):
            return cast(state[field])
        return None

    return {
        "room_id": room_id, "status": status, "reasons": reasons,
        "viewers": number("viewers", int), "messages_per_s": number("messages_per_s"),
        "orders_per_min": number("orders_per_min"), "total_messages": number("total_messages", int),
        "total_orders": number("total_orders", int), "total_gmv": number("total_gmv"),
        "open_alerts": len(open_alerts), "last_update_at": updated_at, "age_s": age_s, "ended": ended,
    }


# ---------------------------------------------------------------- SSE


def sse_frame(data: str, event_id: str | None = None) -> str:
    """One SSE message; multi-line data becomes several ``data:`` lines, as the spec requires."""
    head = f"id: {event_id}\n" if event_id else ""
    return head + "".join(f"data: {line}\n" for line in data.split("\n")) + "\n"


async def relay_pubsub(sink: RedisSink, channel: str, kinds: set[str] | None, request: Request,
                       heartbeat_s: float, still_allowed: Callable[[], Any] | None = None) -> AsyncIterator[str]:
    """Yield SSE frames for each message on ``channel``; a comment line every ``heartbeat_s``.

    ``still_allowed()`` (awaitable, False when the session expired or was signed out) is asked at
    every heartbeat, so a stream opened with a session ends with it.
    Unsubscribes when the client goes away (the generator is closed or cancelled) or the
    server shuts down.
    """
    pubsub = sink.client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel)
    try:
        yield ": connected\nretry: 2000\n\n"
        last_sent = time.monotonic()
        while True:
            message = await pubsub.get_message(timeout=min(1.0, heartbeat_s))
            if message is not None and message.get("type") == "message":
                data = message["data"]
                if kinds:
                    with contextlib.suppress(ValueError):
                        if json.loads(data).get("kind") not in kinds:
                            continue
                yield sse_frame(data)
                last_sent = time.monotonic()
            elif time.monotonic() - last_sent >= heartbeat_s:
                if still_allowed is not None and not await still_allowed():
                    break
                yield f": heartbeat {int(time.time())}\n\n"  # keeps proxies from closing an idle stream
                last_sent = time.monotonic()
            if await request.is_disconnected():
                break
    finally:
        # shielded: on disconnect this runs inside a cancelled scope, and the connection
        # must still go back to the pool unsubscribed
        with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
            await pubsub.unsubscribe(channel)
            await pubsub.aclose()


# ---------------------------------------------------------------- routes


def page(name: str) -> HTMLResponse:
    """A static HTML page with the headers every page gets: no caching, no referrer to other
    origins, scripts and styles from this origin only."""
    return HTMLResponse((STATIC_DIR / name).read_text(encoding="utf-8"), headers={
        "Cache-Control": "no-store", "Referrer-Policy": "same-origin",
        "Content-Security-Policy": ("default-src 'self'; img-src 'self' data: https: http:; "
                                    "media-src 'self' https: http:; object-src 'none'; base-uri 'none'; "
                                    "form-action 'self'; frame-ancestors 'none'"),
    })


def register_dashboard(app: FastAPI, get_redis_sink: Callable[[], RedisSink], require_token: Callable,
                       *, require_page: Callable | None = None, heartbeat_s: float = 15.0,
                       stale_warn_s: float = 15.0, stale_crit_s: float = 60.0) -> None:
    """Add the dashboard pages, ``/api/dashboard/rooms`` and ``/api/stream`` to ``app``.
    ``require_page`` guards the HTML pages (the app's redirects to the sign-in page)."""
    secured = [Depends(require_token)]
    page_secured = [Depends(require_page or require_token)]
    _redact_tokens_in_access_log()
    app.mount("/dashboard/static", StaticFiles(directory=STATIC_DIR), name="dashboard-static")

    @app.get("/dashboard", dependencies=page_secured, include_in_schema=False)
    async def dashboard_overview() -> HTMLResponse:
        return page("dashboard.html")

    @app.get("/dashboard/room/{room_id}", dependencies=page_secured, include_in_schema=False)
    async def dashboard_room(room_id: str) -> HTMLResponse:
        _check_room(room_id)
        return page("room.html")

    @app.get("/dashboard/prompter/{room_id}", dependencies=page_secured, include_in_schema=False)
    async def dashboard_prompter(room_id: str) -> HTMLResponse:
        _check_room(room_id)
        return page("prompter.html")

    @app.get("/api/dashboard/rooms", dependencies=secured)
    async def dashboard_rooms() -> list[dict[str, Any]]:
        sink = get_redis_sink()
        now = time.time()
        rows = []
        for room in await sink.rooms():
            state = await sink.state(room)
            alerts = await sink.events(room, "alert", count=500, latest_first=True)
            rows.append(room_health(room, state, alerts, now, stale_warn_s, stale_crit_s))
        return rows

    @app.get("/api/stream", dependencies=secured)
    async def stream(request: Request, room: str | None = Query(None),
                     kinds: str | None = Query(None, description="comma-separated event kinds")):
        if room is not None:
            _check_room(room)
        wanted = {k for k in (kinds or "").split(",") if k} or None
        if wanted and not wanted <= EVENT_TYPES.keys():
            raise HTTPException(400, f"unknown kinds: {sorted(wanted - EVENT_TYPES.keys())}")
        channel = room_key(room, "events") if room else f"{PREFIX}:events"

        async def still_allowed() -> bool:
            try:
                await require_token(request)
            except HTTPException:
                return False
            return True

        return StreamingResponse(
            relay_pubsub(get_redis_sink(), channel, wanted, request, heartbeat_s, still_allowed),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no", "Connection": "keep-alive"},
        )


def _check_room(room_id: str) -> None:
    if not ROOM_ID_PATTERN.match(room_id):
        raise HTTPException(404, "no such room")


class _RedactTokenFilter(logging.Filter):
    """Access-log lines show request paths: a ``?token=`` someone still sends (and is refused) is masked."""

    pattern = re.compile(r"(token=)[^&\s]+")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self.pattern.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args)
        return True


def _redact_tokens_in_access_log() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _RedactTokenFilter) for f in access.filters):
        access.addFilter(_RedactTokenFilter())
