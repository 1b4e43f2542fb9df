from __future__ import annotations

from streams.settings import Settings


def test_defaults_are_embedded_and_loopback(monkeypatch):
    for k in list(__import__("os").environ):
        if k.startswith("LIVELENS_"):
            monkeypatch.delenv(k)
    s = Settings(_env_file=None)
    assert s.kafka_bootstrap is None and s.redis_url is None  # -> embedded broker + Redis
    assert s.bind_host == "127.0.0.1"
    assert s.fetch_max_wait_ms >= 8  # Tansu returns nothing below ~8 ms


def test_environment_overrides_including_nested_sections(monkeypatch):
    monkeypatch.setenv("LIVELENS_KAFKA_BOOTSTRAP", "kafka:9092")
    monkeypatch.setenv("LIVELENS_REDIS_URL", "redis://:s3cret@redis:6379/0")
    monkeypatch.setenv("LIVELENS_PARTITIONS", "16")
    monkeypatch.setenv("LIVELENS_BUDGETS__RECOMMEND", "250")
    monkeypatch.setenv("LIVELENS_PROCESSORS", '["metrics","chat"]')
    s = Settings(_env_file=None)
    assert s.kafka_bootstrap == "kafka:9092"
    assert s.partitions == 16
    assert s.budgets.recommend == 250
    assert s.processors == ["metrics", "chat"]
    assert s.redis_url.get_secret_value().endswith("@redis:6379/0")


def test_redacted_settings_never_contain_secrets(monkeypatch):
    monkeypatch.setenv("LIVELENS_REDIS_URL", "redis://:s3cret@redis:6379/0")
    monkeypatch.setenv("LIVELENS_API_TOKEN", "tok-123456")
    monkeypatch.setenv("LIVELENS_KAFKA_SASL_PASSWORD", "kafka-pw")
    text = str(Settings(_env_file=None).redacted())
    assert "s3cret" not in text and "tok-123456" not in text and "kafka-pw" not in text


def test_dotenv_file_is_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LIVELENS_TOPIC_PREFIX", raising=False)
    (tmp_path / ".env").write_text("LIVELENS_TOPIC_PREFIX=fromdotenv\n")
    assert Settings().topic_prefix == "fromdotenv"


def test_gc_thresholds_come_from_the_environment_and_never_switch_the_collector_off(monkeypatch):
    import pytest
    from pydantic import ValidationError

    assert Settings(_env_file=None).gc_thresholds == (700, 10, 100)
    monkeypatch.setenv("LIVELENS_GC_THRESHOLDS", "[5000,10,50]")
    assert Settings(_env_file=None).gc_thresholds == (5000, 10, 50)
    monkeypatch.setenv("LIVELENS_GC_THRESHOLDS", "[0,10,10]")  # gen0 = 0 disables automatic collection
    with pytest.raises(ValidationError):
        Settings(_env_file=None)
