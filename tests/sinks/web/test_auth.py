"""Sign in once (sinks/web/auth.py) against a REAL Redis (embedded Valkey): the token becomes an
HttpOnly SameSite=Strict session cookie, state-changing cookie requests need the CSRF header from
this origin, sign-in is rate-limited, sessions expire and sign-out drops them server-side."""

from __future__ import annotations

import time

import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr

from sinks.web.app import create_api
from sinks.web.auth import SESSION_COOKIE, safe_next, session_key
from streams.settings import Settings

TOKEN = "auth-test-token-0123456789"
ORIGIN = "http://testserver"
BROWSER = {"Origin": ORIGIN, "X-Livelens-CSRF": "1"}


def make_api(redis_url, tmp_path, **overrides):
    settings = Settings(_env_file=None, api_token=SecretStr(TOKEN), data_dir=tmp_path, **overrides)
    return create_api(settings, redis_url, kafka_bootstrap=None)


def sign_in(client: TestClient, token: str = TOKEN, next_path: str = "/dashboard/room/r1"):
    return client.post("/signin", json={"token": token, "next": next_path}, headers=BROWSER)


def test_signing_in_sets_an_httponly_strict_cookie_that_opens_pages_api_and_feeds(redis_url, tmp_path):
    with TestClient(make_api(redis_url, tmp_path), follow_redirects=False) as client:
        res = sign_in(client)
        assert res.status_code == 200 and res.json()["next"] == "/dashboard/room/r1"
        cookie = res.headers["set-cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert "Path=/" in cookie and TOKEN not in cookie
        session_id = client.cookies[SESSION_COOKIE]
        # stored server-side as a hash of the id, with the TTL
        ttl = redis.Redis.from_url(redis_url).ttl(session_key(session_id))
        assert 12 * 3600 - 60 < ttl <= 12 * 3600
        assert client.get("/dashboard").status_code == 200
        assert client.get("/api/dashboard/rooms").status_code == 200
        assert client.get("/api/platforms").status_code == 200
        # a GET through the session never needs the CSRF header; a state change does
        assert client.post("/api/rooms/r1/clips/c1/approve").status_code == 403
        assert client.post("/api/rooms/r1/clips/c1/approve", headers={"X-Livelens-CSRF": "1"}).status_code == 403
        assert client.post("/api/rooms/r1/clips/c1/approve",
                           headers={"X-Livelens-CSRF": "1", "Origin": "http://evil.example"}).status_code == 403
        assert client.post("/api/rooms/r1/clips/c1/approve", headers=BROWSER).status_code == 404  # past auth: no clip
        # the token in the URL stays refused, session or not
        assert client.get("/api/dashboard/rooms", params={"token": TOKEN}).status_code == 401
        # sign out: the session is gone server-side, the cookie cleared
        assert client.post("/signout", headers=BROWSER).status_code == 200
        assert not redis.Redis.from_url(redis_url).exists(session_key(session_id))
        client.cookies.set(SESSION_COOKIE, session_id)  # a copied cookie is worthless now
        assert client.get("/api/dashboard/rooms").status_code == 401
        assert client.get("/dashboard").status_code == 303


def test_wrong_token_cross_site_sign_in_and_the_rate_limit(redis_url, tmp_path):
    with TestClient(make_api(redis_url, tmp_path, signin_rate_per_min=3), follow_redirects=False) as client:
        assert client.post("/signin", json={"token": TOKEN}).status_code == 403  # no CSRF header, no Origin
        assert client.post("/signin", json={"token": TOKEN},
                           headers={"Origin": "http://evil.example", "X-Livelens-CSRF": "1"}).status_code == 403
        res = sign_in(client, "wrong")
        assert res.status_code == 401 and SESSION_COOKIE not in res.headers.get("set-cookie", "")
        assert client.post("/signin", content=b"{not json", headers=BROWSER).status_code == 401
        assert sign_in(client).status_code == 200
        res = sign_in(client)  # the fourth try within the minute, right token or not
        assert res.status_code == 429 and res.headers["retry-after"] == "60"


def test_sessions_expire_after_the_configured_ttl(redis_url, tmp_path):
    with TestClient(make_api(redis_url, tmp_path, session_ttl_s=60), follow_redirects=False) as client:
        assert sign_in(client).status_code == 200
        key = session_key(client.cookies[SESSION_COOKIE])
        sync = redis.Redis.from_url(redis_url)
        assert 0 < sync.ttl(key) <= 60
        sync.pexpire(key, 1)  # what 60 s later looks like
        deadline = time.time() + 10
        while sync.exists(key) and time.time() < deadline:
            time.sleep(0.05)
        assert client.get("/api/dashboard/rooms").status_code == 401


def test_sign_in_page_is_public_and_next_is_a_local_path_only(redis_url, tmp_path):
    with TestClient(make_api(redis_url, tmp_path)) as client:
        res = client.get("/signin")
        assert res.status_code == 200 and 'id="token"' in res.text and res.headers["referrer-policy"] == "same-origin"
    assert safe_next("/dashboard/desk/r1") == "/dashboard/desk/r1"
    for bad in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)", "", None, "/\\evil"):
        assert safe_next(bad) == "/dashboard"


def test_csrf_origin_falls_back_to_the_referer_and_refuses_opaque_origins(redis_url, tmp_path):
    with TestClient(make_api(redis_url, tmp_path), follow_redirects=False) as client:
        assert sign_in(client).status_code == 200
        url = "/api/rooms/r1/clips/c1/reject"
        csrf = {"X-Livelens-CSRF": "1"}
        assert client.post(url, headers={**csrf, "Referer": f"{ORIGIN}/dashboard/desk/r1"}).status_code == 404  # past auth
        assert client.post(url, headers={**csrf, "Referer": "http://evil.example/page"}).status_code == 403
        assert client.post(url, headers={**csrf, "Origin": "null"}).status_code == 403  # sandboxed frame, file://
        # a program's bearer request needs neither header
        assert client.post(url, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404
