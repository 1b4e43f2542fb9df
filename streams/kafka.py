"""Kafka plumbing, and every broker quirk handled in ONE place.

The embedded broker (Tansu, docs/ARCHITECTURE.md) differs from Apache Kafka in ways that each were
reproduced on these machines. What this module does about each:

1. Unknown topics are auto-created with 4 partitions, and faust raises ``PartitionsMismatch``
   when a topic's partition count differs from the app's -> :func:`ensure_topics` pre-creates
   every topic (inputs, outputs, table changelogs) with the app's partition count.
2. aiokafka's idempotent/transactional producer fails on Tansu (InitProducerId v0) ->
   :func:`producer_config` sets ``enable_idempotence=False``; processing is at-least-once and
   sinks deduplicate by ``event_id``.
3. A new consumer group's first join waits ``session_timeout / 2`` -> the faust app uses a
   6 s session timeout and a 1 s heartbeat (``Settings.session_timeout_s``).
4. Fetches never return early and faust hard-codes ``fetch_max_wait_ms=1500`` (~370 ms per
   hop) -> the transport in streams/framework.py sets the consumer's wait from
   ``Settings.fetch_max_wait_ms`` (10 ms -> ~12 ms per hop). Values below ~8 return nothing.
5. Memory grows without bound and ``end_offsets`` is wrong for batches -> tests and benchmark
   runs use fresh topic prefixes and unique consumer group ids. faust restores a table from its
   changelog up to that end offset, so a restore stops before the later records of a batch of
   several (seen: one room's state of three missing after a SIGKILL) -> state written at commits
   (``streams/state.py``) sends its changelog records one at a time. A fetch that returns data,
   and ``end_offsets``, cost the broker CPU in proportion to the record *batches* already in the
   partition (~1.5 us each on a slow hour; ``scripts/bench_broker_fetch.py``), so a benchmark's
   broker gets busier as its topics fill (28 -> 54 % of a core over 60 s at 10 rooms).

With a real Kafka none of this hurts: the same code runs unchanged.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from streams.security import kafka_ssl_context
from streams.settings import Settings

log = logging.getLogger(__name__)


# --------------------------------------------------------------------- client configuration


def security_config(settings: Settings) -> dict[str, Any]:
    """SASL/TLS settings passed through to aiokafka clients."""
    cfg: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        cfg["ssl_context"] = kafka_ssl_context(settings)
    if settings.kafka_security_protocol.startswith("SASL"):
        cfg["sasl_mechanism"] = settings.kafka_sasl_mechanism or "PLAIN"
        cfg["sasl_plain_username"] = settings.kafka_sasl_username
        cfg["sasl_plain_password"] = (
            settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else None
        )
    return cfg


def producer_config(settings: Settings, bootstrap: str) -> dict[str, Any]:
    return {
        "bootstrap_servers": bootstrap,
        # quirk 2: Tansu rejects InitProducerId v0, so idempotence is opt-in (real Kafka only)
        "enable_idempotence": settings.kafka_idempotent_producer,
        "acks": "all" if settings.kafka_idempotent_producer else 1,
        "linger_ms": settings.producer_linger_ms,  # a short linger batches bursts
        "max_request_size": max(settings.max_event_bytes * 2, 1_048_576),
        **security_config(settings),
    }


async def start_producer(settings: Settings, bootstrap: str, retries: int = 30) -> AIOKafkaProducer:
    """A started producer; retries with backoff while the broker is not reachable yet, up to
    ``retries`` attempts and ``settings.connect_wait_s``; then raises ``ConnectionError``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.connect_wait_s
    delay = 0.2
    for attempt in range(1, retries + 1):
        producer = AIOKafkaProducer(**producer_config(settings, bootstrap))
        try:
            await producer.start()
            return producer
        except KafkaConnectionError as exc:
            await producer.stop()
            left = deadline - loop.time()
            if left <= 0:
                break
            delay = min(delay, left)
            log.warning("broker %s not reachable (attempt %d/%d): %s; retrying in %.1f s",
                        bootstrap, attempt, retries, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
    raise ConnectionError(f"Kafka broker {bootstrap} not reachable after {attempt} attempts; "
                          "check LIVELENS_KAFKA_BOOTSTRAP")


async def watch_events(settings: Settings, bootstrap: str, topic_names: list[str], on_event,
                       stop: asyncio.Event, ready: asyncio.Event | None = None, on_undecodable=None,
                       group_prefix: str = "livelens-watch") -> None:
    """Read every event on ``topic_names`` from the beginning until ``stop`` is set.

    A fresh consumer group per call (Tansu: groups must be new); each decoded event goes to
    ``on_event(event)``, anything undecodable to ``on_undecodable(raw)``. Used by the demo's and
    the benchmarks' live views, which watch output topics.
    """
    from streams.schemas import DecodeError, decode_event  # noqa: PLC0415 - keeps module import light

    consumer = AIOKafkaConsumer(
        *topic_names, bootstrap_servers=bootstrap, group_id=f"{group_prefix}-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest", fetch_max_wait_ms=settings.fetch_max_wait_ms, enable_auto_commit=False,
        **security_config(settings))
    await consumer.start()
    if ready is not None:
        ready.set()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=100)
            for records in batch.values():
                for rec in records:
                    try:
                        event = decode_event(rec.value, max_bytes=settings.max_event_bytes * 4)
                    except DecodeError:
                        if on_undecodable is not None:
                            on_undecodable(rec.value)
                        continue
                    on_event(event)
    finally:
        await consumer.stop()


# --------------------------------------------------------------------- topics


async def start_admin(settings: Settings, bootstrap: str, wait_s: float | None = None,
                      max_delay_s: float = 5.0) -> AIOKafkaAdminClient:
    """A started admin client; waits (capped exponential backoff) while the broker is down.

    Each failed attempt logs one clear line; after ``wait_s`` (default
    ``settings.connect_wait_s``) it raises ``ConnectionError``.
    """
    wait_s = settings.connect_wait_s if wait_s is None else wait_s
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    delay, attempt = 0.2, 0
    while True:
        attempt += 1
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security_config(settings))
        try:
            await admin.start()
            if attempt > 1:
                log.warning("broker %s reachable after %d attempts", bootstrap, attempt)
            return admin
        except KafkaConnectionError as exc:
            await admin.close()
            left = deadline - loop.time()
            if left <= 0:
                raise ConnectionError(
                    f"Kafka broker {bootstrap} not reachable after {attempt} attempts "
                    f"({wait_s:.0f} s); check LIVELENS_KAFKA_BOOTSTRAP") from exc
            delay = min(delay, left)
            log.warning("Kafka broker %s not reachable (attempt %d): %s; retrying in %.1f s "
                        "(giving up in %.0f s)", bootstrap, attempt, exc, delay, left)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay_s)


async def ensure_topics(settings: Settings, bootstrap: str, names: list[str],
                        partitions: int | None = None, wait_s: float | None = None) -> None:
    """Quirk 1: create every topic up front with the app's partition count (idempotent).

    Waits up to ``wait_s`` (default ``settings.connect_wait_s``) for the broker (a worker may
    start before its broker).
    """
    partitions = partitions or settings.partitions
    admin = await start_admin(settings, bootstrap, wait_s)
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            try:
                await admin.create_topics(
                    [NewTopic(n, num_partitions=partitions, replication_factor=settings.replication_factor)
                     for n in missing]
                )
            except TopicAlreadyExistsError:
                pass  # a concurrent worker created it first
        log.info("topics ready: %d (%d created) with %d partitions", len(names), len(missing), partitions)
    finally:
        await admin.close()


def changelog_topic(settings: Settings, table: str) -> str:
    """The changelog topic faust uses for a table (``{app_id}-{table}-changelog``)."""
    return f"{settings.app_id}-{table}-changelog"


def faust_internal_topics(settings: Settings, tables: list[str]) -> list[str]:
    return [changelog_topic(settings, t) for t in tables] + [f"{settings.app_id}-__assignor-__leader"]


# --------------------------------------------------------------------- faust transport

# The faust transport (``livelens://``: fetch wait, per-record shortcut, pre-commit hook) and every
# other override of faust/aiokafka internals live in streams/framework.py, pinned to their versions.
from streams.framework import LivelensTransport, describe_consumer  # noqa: E402,F401  (registers livelens://)
