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


def _clean_env(monkeypatch):
    for k in list(__import__("os").environ):
        if k.startswith("LIVELENS_"):
            monkeypatch.delenv(k)


def test_list_settings_take_comma_separated_values_as_people_type_them(monkeypatch):
    _clean_env(monkeypatch)
    monkeypatch.setenv("LIVELENS_PROCESSORS", "chat, metrics")
    monkeypatch.setenv("LIVELENS_SINKS", "redis")
    monkeypatch.setenv("LIVELENS_GC_THRESHOLDS", "5000,10,50")
    s = Settings(_env_file=None)
    assert s.processors == ["chat", "metrics"]
    assert s.sinks == ["redis"]
    assert s.gc_thresholds == (5000, 10, 50)
    monkeypatch.setenv("LIVELENS_SINKS", "")  # blank: no sinks (a heavy pool)
    assert Settings(_env_file=None).sinks == []


def test_list_settings_still_take_json_lists(monkeypatch):
    _clean_env(monkeypatch)
    monkeypatch.setenv("LIVELENS_PROCESSORS", '["asr", "vision"]')
    monkeypatch.setenv("LIVELENS_SINKS", "[]")
    s = Settings(_env_file=None)
    assert s.processors == ["asr", "vision"] and s.sinks == []


def test_mapping_settings_take_key_value_pairs_or_json(monkeypatch):
    _clean_env(monkeypatch)
    monkeypatch.setenv("LIVELENS_ASR__ROOM_LANGUAGES", "room-zh=zh, room-en=en")
    monkeypatch.setenv("LIVELENS_RECOMMEND__ROOM_BRANDS", "room-zh=优衣库,room-en=brandx")
    s = Settings(_env_file=None)
    assert s.asr.room_languages == {"room-zh": "zh", "room-en": "en"}
    assert s.recommend.room_brands == {"room-zh": "优衣库", "room-en": "brandx"}
    monkeypatch.setenv("LIVELENS_ASR__ROOM_LANGUAGES", '{"room-zh": "zh"}')
    assert Settings(_env_file=None).asr.room_languages == {"room-zh": "zh"}


def test_comma_lists_work_from_a_dotenv_file_too(tmp_path, monkeypatch):
    _clean_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("LIVELENS_PROCESSORS=metrics,chat\nLIVELENS_ASR__ROOM_LANGUAGES=r1=zh\n")
    s = Settings()
    assert s.processors == ["metrics", "chat"] and s.asr.room_languages == {"r1": "zh"}


def test_malformed_values_are_still_rejected(monkeypatch):
    import pytest
    from pydantic import ValidationError

    _clean_env(monkeypatch)
    monkeypatch.setenv("LIVELENS_ASR__ROOM_LANGUAGES", "room-zh")  # no "=language"
    with pytest.raises(ValidationError, match="key=value"):
        Settings(_env_file=None)
    monkeypatch.delenv("LIVELENS_ASR__ROOM_LANGUAGES")
    monkeypatch.setenv("LIVELENS_GC_THRESHOLDS", "700,10")  # three thresholds needed
    with pytest.raises(ValidationError):
        Settings(_env_file=None)
    monkeypatch.setenv("LIVELENS_GC_THRESHOLDS", "700,ten,100")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)
