"""Kafka SASL/TLS and Redis auth/TLS settings reach the clients (no real SASL broker needed)."""

from __future__ import annotations

import ssl

import faust
import pytest

from sinks.redis import RedisSink
from streams.app import create_app
from streams.kafka import producer_config, security_config
from streams.settings import Settings


def _settings(monkeypatch, **env: str) -> Settings:
    for key, value in env.items():
        monkeypatch.setenv(f"LIVELENS_{key}", value)
    return Settings(_env_file=None)


def test_plaintext_by_default_passes_no_credentials(monkeypatch):
    s = _settings(monkeypatch)
    assert security_config(s) == {"security_protocol": "PLAINTEXT"}
    assert create_app(s, "127.0.0.1:9092").conf.broker_credentials is None


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_ssl_settings_reach_aiokafka_and_faust(monkeypatch, mechanism):
    s = _settings(monkeypatch, KAFKA_SECURITY_PROTOCOL="SASL_SSL", KAFKA_SASL_MECHANISM=mechanism,
                  KAFKA_SASL_USERNAME="svc-livelens", KAFKA_SASL_PASSWORD="sasl-pw-123")
    cfg = producer_config(s, "broker:9093")
    assert cfg["security_protocol"] == "SASL_SSL"
    assert cfg["sasl_mechanism"] == mechanism
    assert cfg["sasl_plain_username"] == "svc-livelens" and cfg["sasl_plain_password"] == "sasl-pw-123"
    assert isinstance(cfg["ssl_context"], ssl.SSLContext)
    assert cfg["ssl_context"].verify_mode == ssl.CERT_REQUIRED and cfg["ssl_context"].check_hostname

    creds = create_app(s, "broker:9093").conf.broker_credentials
    assert isinstance(creds, faust.SASLCredentials)
    assert (creds.username, creds.password) == ("svc-livelens", "sasl-pw-123")
    assert creds.mechanism.value == mechanism and creds.protocol.value == "SASL_SSL"
    assert isinstance(creds.ssl_context, ssl.SSLContext)
    # what faust's aiokafka driver hands to its consumer and producer
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
    auth = credentials_to_aiokafka_auth(creds)
    assert auth["security_protocol"] == "SASL_SSL" and auth["sasl_plain_password"] == "sasl-pw-123"


def test_sasl_plaintext_has_no_tls_context(monkeypatch):
    s = _settings(monkeypatch, KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT", KAFKA_SASL_USERNAME="u",
                  KAFKA_SASL_PASSWORD="p")
    cfg = security_config(s)
    assert cfg["security_protocol"] == "SASL_PLAINTEXT" and "ssl_context" not in cfg
    assert cfg["sasl_mechanism"] == "PLAIN"
    creds = create_app(s, "b:9092").conf.broker_credentials
    assert creds.protocol.value == "SASL_PLAINTEXT" and creds.ssl_context is None


def test_tls_only(monkeypatch):
    s = _settings(monkeypatch, KAFKA_SECURITY_PROTOCOL="SSL")
    cfg = security_config(s)
    assert cfg["security_protocol"] == "SSL" and isinstance(cfg["ssl_context"], ssl.SSLContext)
    assert "sasl_plain_password" not in cfg
    creds = create_app(s, "b:9093").conf.broker_credentials
    assert isinstance(creds, faust.SSLCredentials)


def test_redis_password_and_tls_reach_the_client(monkeypatch):
    s = _settings(monkeypatch, REDIS_URL="rediss://:redis-pw-456@cache.internal:6380/2")
    sink = RedisSink(s.redis_url.get_secret_value())
    pool = sink.client.connection_pool
    assert pool.connection_kwargs["password"] == "redis-pw-456"
    assert (pool.connection_kwargs["host"], pool.connection_kwargs["port"], pool.connection_kwargs["db"]) == (
        "cache.internal", 6380, 2)
    assert "SSL" in pool.connection_class.__name__
    plain = RedisSink("redis://worker:pw2@127.0.0.1:6379/0").client.connection_pool
    assert plain.connection_kwargs["username"] == "worker" and plain.connection_kwargs["password"] == "pw2"
    assert "SSL" not in plain.connection_class.__name__


def test_secrets_are_masked_in_the_printed_settings(monkeypatch):
    s = _settings(monkeypatch, KAFKA_SASL_PASSWORD="sasl-pw-123", REDIS_URL="redis://:redis-pw-456@h:1/0",
                  API_TOKEN="api-token-789")
    text = repr(s) + str(s.redacted())
    for secret in ("sasl-pw-123", "redis-pw-456", "api-token-789"):
        assert secret not in text
