"""The faust application: one per worker process, configured from :class:`Settings`.

Processors (``processors/*.py``) each define ``register(ctx: AppContext)`` that adds their
handlers or agents, tables and timers to ``ctx.app``. The worker picks processors by name
(``LIVELENS_PROCESSORS``), so CPU-heavy stages can run in their own worker pool.

A processor whose work stays on the event loop (no thread pool, no network wait per input)
registers a handler with :meth:`AppContext.on_event`; every such handler of the worker is called
from one shared agent, so a record read by several of them is delivered once. A processor that
waits per input (a model in a thread pool, I/O) keeps its own agent, so its waits do not hold
up the others.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import faust

from streams.framework import LeanMonitor, LivelensTableManager, check_versions, is_stale  # also registers livelens://
from streams.observability import DEAD_LETTERS, HANDLER_ERRORS
from streams.schemas import dead_letter
from streams.security import kafka_ssl_context
from streams.settings import Settings
from streams.state import RoomStates
from streams.topics import TopicNames

log = logging.getLogger(__name__)

#: faust's ``broker_commit_every`` when only the interval should commit: more acks than a worker
#: ever sees (faust's setting is an unsigned int; 0 would commit after every record)
NEVER_BY_COUNT = 2**62


def create_app(settings: Settings, bootstrap: str, *, app_id: str | None = None) -> faust.App:
    check_versions()  # the overrides in streams/framework.py are written for pinned faust/aiokafka
    (settings.data_dir / "faust").mkdir(parents=True, exist_ok=True)  # faust makes only the last level
    app_id = app_id or settings.app_id
    hosts = ";".join(f"livelens://{h.strip()}" for h in bootstrap.split(",") if h.strip())
    credentials: Any = None
    if settings.kafka_security_protocol.startswith("SASL"):
        credentials = faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else None,
            mechanism=settings.kafka_sasl_mechanism or "PLAIN",
            ssl_context=kafka_ssl_context(settings),
        )
    elif settings.kafka_security_protocol == "SSL":
        credentials = faust.SSLCredentials(kafka_ssl_context(settings))
    app = faust.App(
        app_id,
        broker=hosts,
        broker_credentials=credentials,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        # Broker quirks (streams/kafka.py): short session timeout for fast first joins on Tansu.
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=settings.heartbeat_interval_s,
        broker_commit_interval=settings.commit_interval_s,
        # faust's count-based commit runs inside its fetch loop, which delivers no record until
        # the commit returns; commit_every=0 leaves commits to the interval timer (its own task):
        # a count never reached (faust's setting takes no "off")
        broker_commit_every=settings.commit_every or NEVER_BY_COUNT,
        consumer_auto_offset_reset="earliest",
        # bounded memory under a slow consumer: buffers fill, then faust pauses fetching
        stream_buffer_maxsize=settings.stream_buffer_maxsize,
        broker_max_poll_records=settings.max_poll_records,
        producer_linger_ms=settings.producer_linger_ms,
        # at-least-once; exactly-once needs the idempotent producer Tansu lacks.
        processing_guarantee="at_least_once",
        store="memory://",  # tables restore from their changelog topics
        # faust's data dir ("{app id}-data" in the working directory by default) under data_dir
        datadir=str(settings.data_dir / "faust" / "{conf.name}-data"),
        # faust's web server binds 0.0.0.0:6066 by default; metrics are served by
        # prometheus_client on bind_host instead, so faust's own web stays off.
        web_enabled=False,
        web_bind=settings.bind_host,
        web_port=settings.worker_web_port,
        table_cleanup_interval=30.0,
        stream_wait_empty=False,
        Monitor=LeanMonitor,  # the class: faust makes it with the worker's loop and beacon
        TableManager=LivelensTableManager,
    )
    app.livelens_fetch_max_wait_ms = settings.fetch_max_wait_ms  # read by the transport (streams/framework.py)
    app.livelens_before_commit = []  # called by the transport's consumer before each commit
    return app


#: what :meth:`AppContext.on_event` calls with each faust event
EventHandler = Callable[[Any], Awaitable[None]]


#: what :func:`dispatch_event` calls when a handler raised: ``(processor, faust event, exception)``
ErrorHandler = Callable[[str, Any, Exception], Awaitable[None]]


async def dispatch_event(handlers: Sequence[tuple[str, EventHandler]], event,
                         on_error: ErrorHandler | None = None) -> None:
    """Call each ``(processor, handler)`` with ``event``, in order. An exception in one is counted
    (``livelens_handler_errors_total``), logged, and handed to ``on_error`` (the worker's sends the
    event to the dead-letter topic and waits until it is written, so the event's offset is never
    committed before its dead letter exists); the others still run: one processor's bug must not
    starve the rest of the worker."""
    for processor, handler in handlers:
        try:
            await handler(event)
        except Exception as exc:  # noqa: BLE001
            HANDLER_ERRORS.labels(processor).inc()
            m = event.message
            log.exception("%s: handler failed on %s[%d] offset %d", processor, m.topic, m.partition, m.offset)
            if on_error is not None:
                await on_error(processor, event, exc)


def handler_error_reason(processor: str, exc: Exception) -> str:
    """The dead letter's reason for an input a processor raised on (type and message, one line)."""
    message = " ".join(str(exc).split())
    return f"handler error in {processor}: {type(exc).__name__}: {message}"[:500]


@dataclass
class AppContext:
    """What a processor's ``register`` gets: the app, settings, topic names and shared sinks."""

    app: faust.App
    settings: Settings
    topics: TopicNames
    redis_url: str
    extras: dict[str, Any] = field(default_factory=dict)
    #: table names created by processors (the worker pre-creates their changelog topics)
    tables: list[str] = field(default_factory=list)
    #: handlers of the shared dispatch agent, in registration order: (processor, topics, handler)
    handlers: list[tuple[str, tuple[str, ...], EventHandler]] = field(default_factory=list)

    def on_event(self, processor: str, topics: Sequence[str], handler: EventHandler) -> None:
        """Have ``handler(event)`` called for every faust event of ``topics`` (``TOPICS`` keys),
        from the worker's one dispatch agent (:meth:`start_dispatch`).

        Why: faust hands a record to every agent that reads its topic, and each delivery costs a
        queue put, an ack reference and a stream step (three do-nothing agents more on chat cost
        ~7 points of a core at 30 rooms in ``bench load``, ~45 µs a delivery); a chat message went
        to three agents (chat, metrics, recommender), commerce to three. Through one agent each
        record is delivered once to them (BENCHMARKS.md, session 6: the measured gain is small).
        Handlers of one event run one after another, in registration order, and each sees its
        topics' events in order, as with an agent of its own. A handler must not wait long per
        event (a thread pool, the network): that would hold up every other handler; such
        processors keep their own agent.
        """
        self.handlers.append((processor, tuple(topics), handler))

    def handlers_by_topic(self) -> dict[str, list[tuple[str, EventHandler]]]:
        """Full topic name -> its ``(processor, handler)`` pairs, in registration order."""
        by_topic: dict[str, list[tuple[str, EventHandler]]] = {}
        for processor, topics, handler in self.handlers:
            for name in topics:
                by_topic.setdefault(self.topics.full(name), []).append((processor, handler))
        return by_topic

    def start_dispatch(self) -> None:
        """Create the dispatch agent over every topic some handler reads (once all processors
        have registered); each event goes to its topic's handlers (:func:`dispatch_event`)."""
        if not self.handlers:
            return
        by_topic = self.handlers_by_topic()

        @self.app.agent(self.topic(*(self.topics.short(t) for t in by_topic)),
                        name=f"{self.settings.app_id}.dispatch")
        async def dispatch(stream):
            async for event in stream.events():
                await dispatch_event(by_topic[event.message.topic], event, self.handler_failed)

    async def handler_failed(self, processor: str, event, exc: Exception) -> None:
        """Keep an input a processor raised on: to the dead-letter topic with the processor, the
        exception's type and message, counted; returns once the dead letter is written (the
        caller acknowledges the input only after that)."""
        topic = self.topics.short(event.message.topic)
        raw = event.value if isinstance(event.value, (bytes, bytearray)) else str(event.value).encode()
        key = event.key.decode("utf-8", "replace") if isinstance(event.key, (bytes, bytearray)) else "unknown"
        dl = dead_letter(bytes(raw), handler_error_reason(processor, exc), topic, key, processor=processor)
        DEAD_LETTERS.labels(topic, "handler_error").inc()
        fut = await self.topic("dead_letters").send(key=dl.key, value=dl.to_bytes())
        await fut  # delivered: only then may the input's offset be committed

    def topic(self, *names: str) -> faust.TopicT:
        """A faust topic over one or more of our topics (``TOPICS`` keys), raw bytes: processors
        decode (and dead-letter) themselves. ``topic_name(event)`` says which one an event came from."""
        return self.app.topic(*(self.topics.full(n) for n in names), key_type=bytes, value_type=bytes,
                              key_serializer="raw", value_serializer="raw",
                              partitions=self.settings.partitions)

    def models_loaded(self, what: str) -> None:
        """Call once models are loaded (at start, and after a lazy load): with ``gc_freeze`` the
        objects alive now leave the collector's full passes. Why: a full pass walks every object of
        torch, transformers and the weights (~430k), 150-240 ms with the event loop stopped, every
        few seconds under load; frozen, it walks only what streaming creates (~20-30 ms). The
        collector's thresholds are set here too (``gc_thresholds``: full passes less often)."""
        gc.set_threshold(*self.settings.gc_thresholds)
        if not self.settings.gc_freeze:
            return
        gc.collect()  # garbage first: what is frozen is never collected
        gc.freeze()
        log.info("heap frozen after loading %s: %d objects out of the collector's passes", what,
                 gc.get_freeze_count())

    def room_states(self, table, load, dump) -> RoomStates:
        """Live per-room objects over ``table``, written to it before each offset commit and
        reloaded after a rebalance (:class:`streams.state.RoomStates`)."""
        states = RoomStates(table, load, dump)
        self.app.livelens_before_commit.append(states.write)

        async def _revoked(app, revoked, **_kwargs) -> None:
            # eager rebalancing revokes every partition, then faust seeks all to their committed offsets
            states.drop_partitions({tp.partition for tp in revoked})

        self.app.on_partitions_revoked.connect(_revoked, weak=False)
        return states

    def stale(self, event) -> bool:
        """Was ``event`` read before a rebalance revoked its partition? The runtime neither applies
        nor acks such an input: it is read again from the committed offset (streams/framework.py,
        override 9)."""
        return is_stale(self.app, event.message)

    def topic_name(self, event) -> str:
        """The ``TOPICS`` key ("chat", "commerce", …) of the topic a faust event was read from."""
        return self.topics.short(event.message.topic)
