"""HTTP ingest + read API on a real broker and Redis: token, limits, rejects, end to end."""

from __future__ import annotations

import json

import httpx
import pytest
from pydantic import SecretStr

from sinks.web.app import create_api
from tests.integration.helpers import wait_for

pytestmark = pytest.mark.integration

TOKEN = "test-token-0123456789"


@pytest.fixture
async def api(settings, producer):
    settings = settings.model_copy(update={"api_token": SecretStr(TOKEN),
                                           "http_max_body_bytes": 4096, "http_rate_per_s": 50})
    app = create_api(settings, settings.redis_url.get_secret_value(), settings.kafka_bootstrap)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c


AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def test_every_endpoint_but_health_needs_the_token(api):
    assert (await api.get("/healthz")).status_code == 200
    for method, path in [("get", "/api/rooms"), ("get", "/api/rooms/r/state"), ("get", "/metrics/"),
                         ("post", "/ingest/r"), ("post", "/ingest/r/end")]:
        r = await getattr(api, method)(path)
        assert r.status_code == 401, path
        r = await getattr(api, method)(path, headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401, path
    assert (await api.get("/api/rooms", headers=AUTH)).status_code == 200
    r = await api.get(f"/api/rooms?token={TOKEN}")  # a token in a URL ends up in logs and history: refused
    assert r.status_code == 401 and "token in the URL is refused" in r.json()["detail"]


async def test_ingested_chat_and_orders_reach_redis_through_the_worker(api, worker_factory, redis_client):
    await worker_factory(["metrics"])
    assert (await api.post("/ingest/http-room/start", headers=AUTH)).status_code == 200
    lines = [json.dumps({"kind": "chat", "user_id": f"u{i}", "text": "多少钱?", "stream_ms": 100 + i}) for i in range(7)]
    lines.append(json.dumps({"kind": "commerce", "type": "order", "amount": 99.0, "stream_ms": 200}))
    r = await api.post("/ingest/http-room", content="\n".join(lines), headers=AUTH)
    assert r.status_code == 200 and r.json() == {"accepted": 8, "rejected": []}
    assert (await api.post("/ingest/http-room/end", headers=AUTH)).status_code == 200

    async def ended():
        st = await redis_client.hgetall("livelens:{http-room}:state")
        return st if st.get("ended") == "1" else None

    state = await wait_for(ended, timeout=60, what="the HTTP room's final window")
    assert state["total_messages"] == "7" and state["total_orders"] == "1"
    rooms = (await api.get("/api/rooms", headers=AUTH)).json()
    assert any(r["room_id"] == "http-room" and r["total_messages"] == "7" for r in rooms)


async def test_bad_lines_get_reasons_and_dead_letters_and_good_lines_still_go_in(api, redis_client):
    body = "\n".join([
        json.dumps({"kind": "chat", "user_id": "u1", "text": "ok"}),
        "{broken",
        json.dumps({"kind": "laser"}),
        json.dumps({"kind": "commerce", "type": "teleport"}),
        json.dumps({"kind": "chat", "user_id": "u1", "text": "x", "stream_ms": -1}),
    ]).encode() + b"\n\xff\xfe"
    r = await api.post("/ingest/bad-room", content=body, headers=AUTH)
    assert r.status_code == 200
    reasons = [x["reason"] for x in r.json()["rejected"]]
    assert r.json()["accepted"] == 1 and len(reasons) == 5
    assert any("bad JSON" in x for x in reasons) and any("unknown kind" in x for x in reasons)
    assert any("invalid UTF-8" in x for x in reasons) and any("stream_ms" in x for x in reasons)
    all_bad = await api.post("/ingest/bad-room", content=b"{nope", headers=AUTH)
    assert all_bad.status_code == 422


async def test_oversized_bodies_bad_room_ids_and_floods_are_refused(api):
    assert (await api.post("/ingest/r1", content=b"x" * 5000, headers=AUTH)).status_code == 413
    assert (await api.post("/ingest/bad%20room", content=b"{}", headers=AUTH)).status_code == 400
    line = json.dumps({"kind": "chat", "user_id": "u", "text": "spam"})
    codes = [(await api.post("/ingest/flood", content=line, headers=AUTH)).status_code for _ in range(130)]
    assert 429 in codes and codes[0] == 200


async def test_start_declares_the_room_language_and_refuses_an_unknown_one(api):
    r = await api.post("/ingest/lang-room/start", headers=AUTH, content=json.dumps({"language": "zh"}))
    assert r.status_code == 200 and r.json()["language"] == "zh"
    r = await api.post("/ingest/lang-room2/start", headers=AUTH)  # no body: undeclared, still fine
    assert r.status_code == 200 and r.json()["language"] == ""
    r = await api.post("/ingest/lang-room3/start", headers=AUTH, content=json.dumps({"language": "klingon"}))
    assert r.status_code == 400 and "unknown language 'klingon'" in r.json()["detail"]
