"""The dashboard's HTTP surface against a REAL Redis (embedded Valkey): token checks, the
room-health JSON, and the SSE relay of what the Redis sink publishes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Iterator

import httpx
import pytest
import redis
from fastapi import FastAPI, HTTPException, Request
from fastapi.testclient import TestClient
from pydantic import SecretStr

from sinks.redis import RedisSink, room_key
from sinks.web.app import create_api
from sinks.web.dashboard import register_dashboard, room_health
from streams.schemas import Alert, ChatInsight, RoomMetrics
from streams.settings import Settings
from tests.sinks.web.live_server import serve

TOKEN = "dashboard-test-token"
PAGES_AND_FEEDS = ["/dashboard", "/dashboard/room/room-a", "/api/dashboard/rooms", "/api/stream?room=room-a"]


@pytest.fixture
def api(redis_url, tmp_path) -> FastAPI:
    settings = Settings(api_token=SecretStr(TOKEN), data_dir=tmp_path / "var", _env_file=None)
    return create_api(settings, redis_url, kafka_bootstrap=None)


def write(redis_url: str, *events) -> None:
    """Write events the way the worker's Redis sink does (state hash, stream, pub/sub)."""
    async def go():
        sink = RedisSink(redis_url)
        try:
            for event in events:
                assert await sink.write(event)
        finally:
            await sink.close()
    asyncio.run(go())


def metrics(room: str, window: int, viewers: int | None, **kw) -> RoomMetrics:
    return RoomMetrics(room_id=room, stream_ms=(window + 1) * 5000, window_start_ms=window * 5000,
                       window_ms=5000, viewers=viewers, **kw)


def alert(room: str, key: str, state: str, severity: str, message: str = "m") -> Alert:
    return Alert(room_id=room, stream_ms=1000, alert_type=key.split(":")[0], state=state, severity=severity,
                 dedup_key=key, message=message)


# ---------------------------------------------------------------- tokens


BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.parametrize("path", PAGES_AND_FEEDS)
def test_pages_and_feeds_reject_a_missing_or_wrong_token_and_any_token_in_the_url(api, path):
    with TestClient(api, follow_redirects=False) as client:
        page = path.startswith("/dashboard")
        res = client.get(path)
        if page:  # a browser without a session is sent to the sign-in page, coming back afterwards
            assert res.status_code == 303 and res.headers["location"] == f"/signin?next={path}"
        else:
            assert res.status_code == 401
        sep = "&" if "?" in path else "?"
        for token in ("wrong", TOKEN):  # even the right token is refused in a URL
            res = client.get(f"{path}{sep}token={token}")
            assert res.status_code == 401 and "token in the URL is refused" in res.json()["detail"]
            assert "location" not in res.headers
        assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get(path, headers={"X-Livelens-Token": TOKEN[:-1]}).status_code == 401


@pytest.mark.parametrize("path", ["/dashboard", "/dashboard/room/room-a", "/dashboard/desk", "/signin"])
def test_pages_are_served_and_load_only_local_assets(api, path):
    with TestClient(api) as client:
        res = client.get(path, headers=BEARER)
        assert res.status_code == 200
        assert res.headers["content-type"].startswith("text/html")
        assert res.headers["referrer-policy"] == "same-origin"
        assert "default-src 'self'" in res.headers["content-security-policy"]
        html = res.text
        assert "http://" not in html and "https://" not in html  # nothing external loads
        assert 'content="same-origin"' in html
        for asset in ("dashboard.css", "signin.js" if path == "/signin" else "dashboard.js"):
            assert f"/dashboard/static/{asset}" in html
            assert client.get(f"/dashboard/static/{asset}").status_code == 200


def test_room_page_rejects_an_invalid_room_id(api):
    with TestClient(api) as client:
        assert client.get("/dashboard/room/bad<id>", headers=BEARER).status_code == 404


def test_access_log_lines_never_show_the_token(api, caplog):
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET",
                                                 f"/api/stream?room=r&token={TOKEN}", "1.1", 200)
    assert caplog.records and TOKEN not in caplog.text and "token=***" in caplog.text


def test_scripts_never_parse_event_text_as_html():
    from sinks.web.dashboard import STATIC_DIR

    for script in STATIC_DIR.glob("*.js"):
        code = script.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in code.replace("never uses innerHTML", ""), f"{script.name} uses {sink}"


# ---------------------------------------------------------------- room list


def test_room_list_reports_live_figures_alert_counts_and_status(api, redis_url):
    write(redis_url,
          metrics("room-green", 0, viewers=800, messages=10, messages_per_s=2.0, orders=1, orders_per_min=12.0,
                  total_messages=10, total_orders=1, total_gmv=99.5),
          metrics("room-green", 1, viewers=None, messages=5, messages_per_s=1.0, total_messages=15, total_orders=1,
                  total_gmv=99.5),
          metrics("room-red", 0, viewers=50),
          alert("room-red", "viewer_drop:room-red", "open", "critical"),
          alert("room-red", "chat_spike:room-red", "open", "warning"),
          alert("room-red", "chat_spike:room-red", "resolved", "warning"),
          metrics("room-amber", 0, viewers=5),
          alert("room-amber", "payment_failures:room-amber", "updated", "warning"))
    with TestClient(api) as client:
        res = client.get("/api/dashboard/rooms", headers={"Authorization": f"Bearer {TOKEN}"})
    assert res.status_code == 200
    rows = {row["room_id"]: row for row in res.json()}
    assert set(rows) == {"room-green", "room-red", "room-amber"}
    green = rows["room-green"]
    assert green["status"] == "green" and green["open_alerts"] == 0
    assert green["viewers"] == 800  # the last reported count survives a window without one
    assert green["messages_per_s"] == 1.0 and green["total_messages"] == 15 and green["total_gmv"] == 99.5
    assert 0 <= green["age_s"] < 30
    red = rows["room-red"]
    assert red["status"] == "red" and red["open_alerts"] == 1  # the resolved chat spike no longer counts
    assert rows["room-amber"]["status"] == "amber" and rows["room-amber"]["open_alerts"] == 1


def test_room_health_turns_amber_then_red_as_a_room_goes_quiet_and_ended_rooms_stay_calm():
    event = metrics("r", 0, viewers=1)
    state = {"last:room_metrics": event.model_dump_json(), "viewers": "1"}
    at = event.emitted_at

    def status(now, st=state):
        return room_health("r", st, [], now, stale_warn_s=15, stale_crit_s=60)["status"]

    assert status(at + 5) == "green"
    assert status(at + 20) == "amber"
    assert status(at + 61) == "red"
    assert status(at + 600, {**state, "ended": "1"}) == "ended"
    assert room_health("r", {}, [], at, 15, 60)["status"] == "red"  # never heard from


# ---------------------------------------------------------------- SSE


def read_sse(stream_lines: Iterator[str], want, timeout: float = 10.0) -> list[str]:
    """Read SSE lines until ``want(lines)`` is true; return the lines.

    ``stream_lines`` is ONE ``response.iter_lines()`` iterator for the whole test: dropping an
    httpx line iterator closes the response.
    """
    lines: list[str] = []
    deadline = time.time() + timeout
    for line in stream_lines:
        lines.append(line)
        if want(lines):
            return lines
        assert time.time() < deadline, f"SSE: gave up after {timeout} s; got {lines}"
    raise AssertionError(f"SSE stream ended early: {lines}")


def numsub(redis_url: str, channel: str) -> int:
    sync = redis.Redis.from_url(redis_url)
    try:
        return dict(sync.pubsub_numsub(channel))[channel.encode()]
    finally:
        sync.close()


def test_sse_relays_a_published_event_and_unsubscribes_when_the_client_leaves(api, redis_url):
    channel = room_key("room-a", "events")
    insight = ChatInsight(room_id="room-a", stream_ms=1234, message_id="m1", text="<b>多少钱</b>\nline2",
                          sentiment="neutral", emotion="curious", intent="price_question", confidence=0.9)
    with serve(api) as base, httpx.Client(timeout=10) as client:
        with client.stream("GET", f"{base}/api/stream", params={"room": "room-a"}, headers=BEARER) as res:
            assert res.status_code == 200
            assert res.headers["content-type"].startswith("text/event-stream")
            stream_lines = res.iter_lines()
            read_sse(stream_lines, lambda lines: ": connected" in lines)  # subscribed before we publish
            assert numsub(redis_url, channel) == 1
            write(redis_url, metrics("room-other", 0, viewers=3), insight)  # another room's event is not relayed
            lines = read_sse(stream_lines, lambda lines: any(line.startswith("data:") for line in lines))
        data = [line[len("data: "):] for line in lines if line.startswith("data:")]
        relayed = json.loads("\n".join(data))
        assert relayed["kind"] == "chat_insight" and relayed["event_id"] == insight.event_id
        assert relayed["text"] == insight.text
        deadline = time.time() + 10
        while numsub(redis_url, channel) and time.time() < deadline:
            time.sleep(0.1)
        assert numsub(redis_url, channel) == 0, "the SSE relay kept its subscription after the client left"


def heartbeat_app(redis_url: str, require_token) -> FastAPI:
    """Only the dashboard's routes over ``redis_url``, with a 0.3 s SSE heartbeat."""
    sinks: dict[str, RedisSink] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        sinks["redis"] = RedisSink(redis_url)
        yield
        await sinks["redis"].close()

    app = FastAPI(lifespan=lifespan)
    register_dashboard(app, lambda: sinks["redis"], require_token, heartbeat_s=0.3)
    return app


def test_sse_sends_heartbeats_while_idle_and_filters_by_kind(redis_url):
    async def require_token(request: Request) -> None:
        if request.headers.get("x-livelens-token") != TOKEN:
            raise HTTPException(401)

    app = heartbeat_app(redis_url, require_token)
    with serve(app) as base, httpx.Client(timeout=10, headers={"X-Livelens-Token": TOKEN}) as client:
        assert client.get(f"{base}/api/stream", params={"kinds": "nope"}).status_code == 400
        params = {"kinds": "alert"}  # all rooms, alerts only
        with client.stream("GET", f"{base}/api/stream", params=params) as res:
            stream_lines = res.iter_lines()
            read_sse(stream_lines, lambda lines: sum(line.startswith(": heartbeat") for line in lines) >= 2, timeout=5)
            wanted = alert("room-b", "x:room-b", "open", "critical")
            write(redis_url, metrics("room-b", 0, viewers=1), wanted)
            lines = read_sse(stream_lines, lambda lines: any(line.startswith("data:") for line in lines))
        relayed = [json.loads(line[6:]) for line in lines if line.startswith("data:")]
        assert [e["kind"] for e in relayed] == ["alert"] and relayed[0]["event_id"] == wanted.event_id


def test_sse_stream_ends_once_its_session_is_gone(redis_url):
    """A stream opened with a session closes at the next heartbeat after sign-out or expiry."""
    allowed = {"now": True}

    async def require_token(request: Request) -> None:
        if not allowed["now"]:
            raise HTTPException(401)

    app = heartbeat_app(redis_url, require_token)
    with serve(app) as base, httpx.Client(timeout=10) as client:
        with client.stream("GET", f"{base}/api/stream", params={"room": "room-s"}) as res:
            stream_lines = res.iter_lines()
            read_sse(stream_lines, lambda lines: any(line.startswith(": heartbeat") for line in lines), timeout=5)
            allowed["now"] = False  # signed out
            deadline = time.time() + 10
            for _line in stream_lines:  # ends when the server closes the stream
                assert time.time() < deadline, "the stream outlived its session"
