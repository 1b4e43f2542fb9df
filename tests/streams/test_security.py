from __future__ import annotations

import stat

from streams.security import RateLimiter, SignatureVerifier, load_or_create_token, sign, token_matches


def test_generated_token_is_private_stable_and_long(tmp_path):
    token = load_or_create_token(None, tmp_path)
    assert len(token) >= 32
    assert load_or_create_token(None, tmp_path) == token
    assert stat.S_IMODE((tmp_path / "api-token").stat().st_mode) == 0o600
    assert load_or_create_token("configured", tmp_path) == "configured"


def test_token_comparison():
    assert token_matches("abc", "abc")
    assert not token_matches("abd", "abc")
    assert not token_matches(None, "abc") and not token_matches("", "abc")


def test_signed_webhook_verifies_once_then_is_a_replay():
    body = b'{"kind":"alert"}'
    headers = sign(body, "s3cret", timestamp=1_000_000)
    v = SignatureVerifier("s3cret")
    assert v.verify(body, headers, now=1_000_010) is None
    assert v.verify(body, headers, now=1_000_010) == "replayed request"


def test_signature_rejects_tampering_wrong_secret_and_stale_timestamps():
    body = b'{"kind":"alert"}'
    headers = sign(body, "s3cret", timestamp=1_000_000)
    assert SignatureVerifier("s3cret").verify(body + b" ", headers, now=1_000_000) == "bad signature"
    assert SignatureVerifier("other").verify(body, headers, now=1_000_000) == "bad signature"
    assert SignatureVerifier("s3cret").verify(body, headers, now=1_000_000 + 3600) == "timestamp outside the tolerance window"
    assert SignatureVerifier("s3cret").verify(body, {}, now=1_000_000) == "missing or malformed signature headers"


def test_rate_limiter_allows_a_burst_then_refills():
    rl = RateLimiter(rate_per_s=5)
    allowed = sum(rl.allow("k", now=0.0) for _ in range(20))
    assert allowed == 10  # burst = 2 x rate
    assert not rl.allow("k", now=0.0)
    assert rl.allow("k", now=1.0)  # refilled
    assert rl.allow("other", now=0.0)  # per key


def test_a_fresh_timestamp_cannot_be_grafted_onto_a_captured_signature():
    from streams.security import TIMESTAMP_HEADER

    body = b'{"kind":"clip"}'
    captured = sign(body, "s3cret", timestamp=1_000_000)
    # an attacker replays it an hour later with the timestamp header updated to pass the window
    regrafted = {**captured, TIMESTAMP_HEADER: str(1_000_000 + 3600)}
    assert SignatureVerifier("s3cret").verify(body, regrafted, now=1_000_000 + 3600) == "bad signature"
    # timestamps too far in the future are refused as well
    ahead = sign(body, "s3cret", timestamp=1_000_000 + 3600)
    assert SignatureVerifier("s3cret").verify(body, ahead, now=1_000_000) == "timestamp outside the tolerance window"


def test_one_token_reader_for_every_way_a_request_presents_it():
    from streams.security import presented_token

    assert presented_token({"authorization": "Bearer abc"}) == "abc"
    assert presented_token({"x-livelens-token": "def"}) == "def"
    assert presented_token({}) is None  # never from the URL: browsers sign in for a session cookie
    assert presented_token({"authorization": "Basic xyz"}) is None


def test_a_rate_limiter_with_an_explicit_burst():
    from streams.security import RateLimiter

    rl = RateLimiter(rate_per_s=1 / 60, burst=3)
    assert [rl.allow("ip", now=0.0) for _ in range(4)] == [True, True, True, False]
    assert rl.allow("ip", now=61.0) and not rl.allow("ip", now=61.5)


def test_one_tls_context_builder_for_every_kafka_client(tmp_path):
    import ssl

    from streams.security import kafka_ssl_context
    from streams.settings import Settings

    assert kafka_ssl_context(Settings(_env_file=None)) is None
    ctx = kafka_ssl_context(Settings(kafka_security_protocol="SASL_SSL", _env_file=None))
    assert isinstance(ctx, ssl.SSLContext) and ctx.verify_mode == ssl.CERT_REQUIRED
