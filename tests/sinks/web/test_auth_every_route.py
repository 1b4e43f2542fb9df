"""Every HTTP route needs the API token or a session, except the health check, the sign-in/out
routes and the dashboard's static files; no route takes the token from the URL.

The routes are enumerated from the app itself, so a route added later without the token check
makes this test fail.
"""

from __future__ import annotations

import re

import httpx
import pytest
from pydantic import SecretStr

from sinks.web.app import create_api
from streams.settings import Settings

TOKEN = "route-test-token-0123456789"
PUBLIC = ("/healthz", "/dashboard/static", "/signin", "/signout")


def _routes(app) -> list[tuple[str, str]]:
    """(method, path) for every route, including included routers and mounts."""
    found: list[tuple[str, str]] = []
    for route in app.routes:
        candidates = getattr(route, "effective_candidates", None)  # FastAPI >= 0.165: included routers
        if candidates is not None:
            for c in (candidates() if callable(candidates) else candidates):
                found += [(m, c.path) for m in c.methods]
        elif hasattr(route, "methods") and route.methods:
            found += [(m, route.path) for m in route.methods if m != "HEAD"]
        elif hasattr(route, "path"):  # a Mount (prometheus /metrics, static files)
            found.append(("GET", route.path.rstrip("/") + "/anything"))
    return found


@pytest.fixture
def app(tmp_path, valkey):
    settings = Settings(_env_file=None, api_token=SecretStr(TOKEN), data_dir=tmp_path)
    return create_api(settings, valkey.url, None)


def test_the_route_walker_sees_every_documented_route(app):
    seen = {path for _, path in _routes(app)}
    assert set(app.openapi()["paths"]) <= seen
    assert any(p.startswith("/metrics") for p in seen) and any(p.startswith("/ingest/") for p in seen)


async def test_every_route_but_health_and_static_answers_401_without_the_token(app):
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        checked = 0
        for method, path in _routes(app):
            url = re.sub(r"\{[^}]+\}", "x", path)
            if url.startswith(PUBLIC):
                continue
            page = method == "GET" and url.startswith("/dashboard")
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"X-Livelens-Token": "wrong"},
                            {"Cookie": "livelens_session=forged"}):
                r = await client.request(method, url, headers=headers)
                if page and ("Authorization" not in headers and "X-Livelens-Token" not in headers):
                    # a browser without a session: sent to the sign-in page, nothing of the page served
                    assert r.status_code == 303 and r.headers["location"].startswith("/signin?next=/dashboard"), url
                    continue
                assert r.status_code == 401, f"{method} {url} answered {r.status_code} with {headers or 'no token'}"
            # the right token in the URL is refused as well
            r = await client.request(method, url, params={"token": TOKEN})
            assert r.status_code == 401, f"{method} {url}?token= answered {r.status_code}"
            checked += 1
        assert checked >= 10
        assert (await client.get("/healthz")).status_code == 200
        for docs in ("/docs", "/redoc", "/openapi.json"):  # no unauthenticated API description
            assert (await client.get(docs)).status_code in (401, 404), docs
