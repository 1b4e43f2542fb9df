"""Tokens, TLS, webhook signatures and rate limits: the small security pieces, each in one place."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import ssl
import time
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

SIGNATURE_HEADER = "X-Livelens-Signature"
TIMESTAMP_HEADER = "X-Livelens-Timestamp"


def load_or_create_token(configured: str | None, data_dir: Path, name: str = "api-token") -> str:
    """The configured secret, or one generated once into ``data_dir/<name>`` (mode 0600): the API
    token (``api-token``) and the key of pseudonymised viewer ids (``privacy-secret``).

    The secret itself is never logged; only the file path is.
    """
    if configured:
        return configured
    path = data_dir / name
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(token)
    return token


def presented_token(headers: Mapping[str, str]) -> str | None:
    """The API token a program presents: ``Authorization: Bearer``, else ``X-Livelens-Token``.
    ``headers`` keys are lower-case. A token in the URL (``?token=``) is never accepted: URLs end
    up in browser history, proxy logs and Referer headers (browsers sign in for a session cookie,
    :mod:`sinks.web.auth`)."""
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return headers.get("x-livelens-token") or None


def kafka_ssl_context(settings) -> ssl.SSLContext | None:
    """The TLS context of every Kafka client (faust's and aiokafka's), None without TLS."""
    if settings.kafka_security_protocol not in ("SSL", "SASL_SSL"):
        return None
    return ssl.create_default_context(cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None)


def token_matches(presented: str | None, expected: str) -> bool:
    return bool(presented) and hmac.compare_digest(presented.encode(), expected.encode())


def sign(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Headers for a signed webhook: HMAC-SHA256 over ``"{timestamp}.{body}"``."""
    ts = int(timestamp if timestamp is not None else time.time())
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: f"sha256={mac}"}


class SignatureVerifier:
    """Receiver side: checks the MAC, the timestamp window and replays (seen signatures)."""

    def __init__(self, secret: str, tolerance_s: int = 300, remember: int = 10_000):
        self.secret = secret
        self.tolerance_s = tolerance_s
        self._seen: OrderedDict[str, int] = OrderedDict()
        self._remember = remember

    def verify(self, body: bytes, headers: dict[str, str], now: float | None = None) -> str | None:
        """None if valid, else the reason."""
        now = time.time() if now is None else now
        ts_text = headers.get(TIMESTAMP_HEADER, "")
        sig = headers.get(SIGNATURE_HEADER, "")
        if not ts_text.isdigit() or not sig.startswith("sha256="):
            return "missing or malformed signature headers"
        ts = int(ts_text)
        if abs(now - ts) > self.tolerance_s:
            return "timestamp outside the tolerance window"
        expected = sign(body, self.secret, ts)[SIGNATURE_HEADER]
        if not hmac.compare_digest(expected, sig):
            return "bad signature"
        if sig in self._seen:
            return "replayed request"
        self._seen[sig] = ts
        while len(self._seen) > self._remember:
            self._seen.popitem(last=False)
        return None


class RateLimiter:
    """Token bucket per key (client address, room): ``rate`` per second, burst ``2*rate`` unless given."""

    def __init__(self, rate_per_s: float, max_keys: int = 10_000, burst: float | None = None):
        self.rate = rate_per_s
        self.burst = max(1.0, 2 * rate_per_s if burst is None else burst)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._max_keys = max_keys

    def allow(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return allowed
