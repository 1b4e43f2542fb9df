"""Embedded infrastructure bookkeeping (no process started here; the integration suite starts them)."""

from __future__ import annotations

from streams.embedded import EmbeddedBroker, EmbeddedRedis, Infrastructure


def test_broker_pid_is_none_until_an_embedded_broker_runs():
    broker = EmbeddedBroker()
    assert broker.pid is None  # not started
    assert Infrastructure("kafka:9092", "redis://r:6379/0").broker_pid is None  # configured, nothing started
    infra = Infrastructure(broker.bootstrap, "redis://r:6379/0", started=[EmbeddedRedis(), broker])
    assert infra.broker_pid is None  # listed, but its process is not running


def test_other_kafka_clients_get_the_proxy_only_when_an_embedded_broker_runs_it():
    configured = Infrastructure("kafka:9092", "redis://r:6379/0")
    assert configured.kafka_external_bootstrap == "kafka:9092"  # a real Kafka needs no proxy
    broker = EmbeddedBroker(port=19999)
    assert broker.external_bootstrap == broker.bootstrap  # not started: no proxy yet
    without = EmbeddedBroker(compat_proxy=False)
    assert Infrastructure(without.bootstrap, "", started=[without]).kafka_external_bootstrap == without.bootstrap
