"""Sign in once: the API token is exchanged for a server-side session behind an HttpOnly cookie.

* ``GET  /signin``   the sign-in page (public); ``?next=/dashboard/...`` says where to go after
* ``POST /signin``   JSON ``{"token": "..."}`` -> ``Set-Cookie: livelens_session=<id>; HttpOnly;
                     SameSite=Strict; Path=/`` (``Secure`` over https). Rate-limited per client address
                     (``LIVELENS_SIGNIN_RATE_PER_MIN``); a wrong token is a 401, too many tries a 429.
* ``POST /signout``  drops the session server-side and clears the cookie

Sessions live in Redis (``livelens:session:<sha256 of the id>``, expiring after
``LIVELENS_SESSION_TTL_S``), so a stolen Redis dump holds no usable cookie and any API process
behind a balancer sees the same sessions.

Every other route takes either the token from a program (``Authorization: Bearer`` or
``X-Livelens-Token``) or a session cookie from a browser. A token in the URL (``?token=``) is
refused everywhere: URLs land in history, proxy logs and Referer headers. A cookie-authenticated
request that changes state (anything but GET/HEAD/OPTIONS) must also carry ``X-Livelens-CSRF: 1``
(a header a cross-site form cannot set) and come from this origin (``Origin``, else ``Referer``,
matching ``Host``); bearer requests need neither, as no browser adds a bearer header by itself.
Pages answer an unauthenticated browser with a redirect to ``/signin?next=<page>``.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import HTMLResponse

from sinks.redis import PREFIX
from streams.security import RateLimiter, presented_token, token_matches

SESSION_COOKIE = "livelens_session"
CSRF_HEADER = "X-Livelens-CSRF"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "same-origin"}


def session_key(session_id: str) -> str:
    # only a hash of the id is stored: the cookie value itself never sits in Redis
    return f"{PREFIX}:session:" + hashlib.sha256(session_id.encode()).hexdigest()


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a local path only (no scheme, no ``//host``), else the overview."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/dashboard"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/dashboard"
    return value


def same_origin(request: Request) -> bool:
    """The request comes from a page of this origin: its ``Origin`` (else ``Referer``) host is ``Host``."""
    source = request.headers.get("origin") or request.headers.get("referer") or ""
    host = request.headers.get("host", "")
    return bool(source) and bool(host) and source != "null" and urlsplit(source).netloc == host


class Auth:
    """The token check of every route (``require``), the page variant (``require_page``) and sessions."""

    def __init__(self, token: str, get_redis_client: Callable[[], Any], session_ttl_s: int,
                 signin_rate_per_min: float):
        self.token = token
        self.get_redis_client = get_redis_client
        self.session_ttl_s = session_ttl_s
        self.limiter = RateLimiter(signin_rate_per_min / 60.0, burst=signin_rate_per_min)

    # ---- sessions -----------------------------------------------------------------------------

    async def create_session(self) -> str:
        session_id = secrets.token_urlsafe(32)
        await self.get_redis_client().set(session_key(session_id), "1", ex=self.session_ttl_s)
        return session_id

    async def session_valid(self, session_id: str | None) -> bool:
        if not session_id or len(session_id) > 128:
            return False
        return bool(await self.get_redis_client().exists(session_key(session_id)))

    async def drop_session(self, session_id: str | None) -> None:
        if session_id and len(session_id) <= 128:
            await self.get_redis_client().delete(session_key(session_id))

    # ---- checks -------------------------------------------------------------------------------

    async def check(self, request: Request) -> str | None:
        """None when the request may go on, else why not (one line)."""
        if "token" in request.query_params:
            return "a token in the URL is refused: sign in at /signin, or send Authorization: Bearer <token>"
        presented = presented_token(request.headers)
        if presented is not None:
            return None if token_matches(presented, self.token) else "missing or wrong API token"
        if not await self.session_valid(request.cookies.get(SESSION_COOKIE)):
            return "missing or wrong API token (or no valid session: sign in at /signin)"
        if request.method not in SAFE_METHODS:
            if request.headers.get(CSRF_HEADER) != "1" or not same_origin(request):
                return f"cross-site request refused: send {CSRF_HEADER}: 1 from a page of this origin"
        return None

    async def require(self, request: Request) -> None:
        """Dependency of every API route: 401 with the reason."""
        reason = await self.check(request)
        if reason is not None:
            code = 403 if reason.startswith("cross-site") else 401
            raise HTTPException(code, reason, headers={"WWW-Authenticate": "Bearer"} if code == 401 else None)

    async def require_page(self, request: Request) -> None:
        """Dependency of the HTML pages: a browser without a session goes to the sign-in page."""
        reason = await self.check(request)
        if reason is None:
            return
        if "token" in request.query_params or presented_token(request.headers) is not None:
            raise HTTPException(401, reason)  # a program (or a token in the URL): no redirect
        raise HTTPException(303, "sign in first", headers={
            "Location": "/signin?next=" + quote(request.url.path, safe="/"), **PAGE_HEADERS})


def register_auth(app: FastAPI, auth: Auth, page: Callable[[str], HTMLResponse], secure_cookie: bool | None = None) -> None:
    """``/signin`` (page + form post) and ``/signout``. ``page(name)`` serves a static HTML page."""

    @app.get("/signin", include_in_schema=False)
    async def signin_page() -> HTMLResponse:
        return page("signin.html")

    @app.post("/signin")
    async def signin(request: Request, response: Response) -> dict:
        client = request.client.host if request.client else "?"
        if not same_origin(request) or request.headers.get(CSRF_HEADER) != "1":
            raise HTTPException(403, f"cross-site sign-in refused: send {CSRF_HEADER}: 1 from a page of this origin")
        if not auth.limiter.allow(client):
            raise HTTPException(429, "too many sign-in attempts: wait a minute", headers={"Retry-After": "60"})
        try:
            body = await request.json()
        except ValueError:
            body = None
        body = body if isinstance(body, dict) else {}
        presented = body.get("token")
        if not isinstance(presented, str) or not token_matches(presented.strip(), auth.token):
            raise HTTPException(401, "wrong token")
        await auth.drop_session(request.cookies.get(SESSION_COOKIE))  # a fresh id on every sign-in
        session_id = await auth.create_session()
        secure = request.url.scheme == "https" if secure_cookie is None else secure_cookie
        response.set_cookie(SESSION_COOKIE, session_id, max_age=auth.session_ttl_s, path="/", httponly=True,
                            samesite="strict", secure=secure)
        response.headers["Cache-Control"] = "no-store"
        return {"ok": True, "next": safe_next(str(body.get("next") or ""))}

    @app.post("/signout")
    async def signout(request: Request, response: Response) -> dict:
        session_id = request.cookies.get(SESSION_COOKIE)
        if session_id:
            if request.headers.get(CSRF_HEADER) != "1" or not same_origin(request):
                raise HTTPException(403, f"cross-site sign-out refused: send {CSRF_HEADER}: 1 from a page of this origin")
            await auth.drop_session(session_id)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        return {"ok": True}
