"""The HTTP API: HTTP ingest, room state and event reads, Prometheus metrics. Token-protected.

Every endpoint except ``/healthz`` and the sign-in page needs the API token (``LIVELENS_API_TOKEN``,
or the one generated into ``var/api-token``): programs send it as ``Authorization: Bearer <token>``
or ``X-Livelens-Token``; browsers sign in once at ``/signin`` for a session cookie
(:mod:`sinks.web.auth`). ``?token=`` is refused everywhere. Binds 127.0.0.1 unless configured.
"""

from __future__ import annotations

import contextlib
import logging

from fastapi import Depends, FastAPI, HTTPException, Query
from prometheus_client import make_asgi_app

from sinks.redis import RedisSink
from sinks.web.auth import Auth, register_auth
from sinks.web.dashboard import page, register_dashboard
from streams.ingest.http import HTTP_TOPICS, HttpIngest, create_ingest_router
from streams.ingest.privacy import ViewerPrivacy
from streams.ingest.publisher import Publisher
from streams.kafka import start_producer
from streams.schemas import EVENT_TYPES
from streams.security import load_or_create_token, presented_token, token_matches
from streams.settings import Settings
from streams.topics import TopicNames

log = logging.getLogger(__name__)


def create_api(settings: Settings, redis_url: str, kafka_bootstrap: str | None) -> FastAPI:
    """``kafka_bootstrap=None`` serves reads only (no HTTP ingest)."""
    token = load_or_create_token(
        settings.api_token.get_secret_value() if settings.api_token else None, settings.data_dir)
    state: dict = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        state["redis"] = RedisSink(redis_url, settings.redis_stream_maxlen)
        if kafka_bootstrap:
            producer = await start_producer(settings, kafka_bootstrap)
            publisher = Publisher(producer, TopicNames(settings.topic_prefix), input_topics=HTTP_TOPICS,
                                  privacy=ViewerPrivacy.from_settings(settings))
            state["ingest"] = HttpIngest(publisher, settings.http_max_body_bytes, settings.http_rate_per_s)
            await state["ingest"].start()
        try:
            yield
        finally:
            if "ingest" in state:
                await state["ingest"].stop()
                await state["ingest"].publisher.producer.stop()
            await state["redis"].close()

    auth = Auth(token, lambda: state["redis"].client, settings.session_ttl_s, settings.signin_rate_per_min)
    require_token = auth.require

    def get_ingest() -> HttpIngest:
        if "ingest" not in state:
            raise HTTPException(503, "HTTP ingest needs a broker (LIVELENS_KAFKA_BOOTSTRAP)")
        return state["ingest"]

    # no /docs, /redoc or /openapi.json: they would be the only routes served without the token
    app = FastAPI(title="livelens", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.include_router(create_ingest_router(get_ingest, require_token))
    secured = [Depends(require_token)]
    app.mount("/metrics", _secured_asgi(make_asgi_app(), token))

    @app.get("/healthz")
    async def healthz():
        return {"ok": True}

    @app.get("/api/rooms", dependencies=secured)
    async def rooms():
        sink: RedisSink = state["redis"]
        out = []
        for room in await sink.rooms():
            st = await sink.state(room)
            out.append({"room_id": room, **{k: v for k, v in st.items() if not k.startswith("last:")}})
        return out

    @app.get("/api/rooms/{room_id}/state", dependencies=secured)
    async def room_state(room_id: str):
        return await state["redis"].state(room_id)

    @app.get("/api/rooms/{room_id}/events/{kind}", dependencies=secured)
    async def room_events(room_id: str, kind: str, count: int = Query(100, ge=1, le=10_000)):
        if kind not in EVENT_TYPES:
            raise HTTPException(404, f"unknown kind {kind!r}")
        return await state["redis"].events(room_id, kind, count=count, latest_first=True)

    register_auth(app, auth, page)
    register_dashboard(app, lambda: state["redis"], require_token, require_page=auth.require_page)
    from sinks.web.clips import register_clip_routes  # clip list + clip files (sinks/web/clips.py)
    register_clip_routes(app, settings, require_token, lambda: state["redis"])
    from sinks.web.clips import register_desk_routes  # approve / reject / trim / render / export

    register_desk_routes(app, settings, require_token, lambda: state["redis"], require_page=auth.require_page)

    app.state.livelens = state
    app.state.require_token = require_token
    app.state.auth = auth
    return app


def _secured_asgi(inner, token: str):
    """Wrap a plain ASGI app (prometheus) with the token check of programs (no cookie: scrapers
    send a bearer token)."""

    async def app(scope, receive, send):
        if scope["type"] == "http":
            headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
            presented = presented_token(headers)
            if not token_matches(presented, token):
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"text/plain")]})
                await send({"type": "http.response.body", "body": b"missing or wrong API token"})
                return
        await inner(scope, receive, send)

    return app
