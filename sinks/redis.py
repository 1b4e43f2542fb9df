"""Redis sink: room state hashes, capped streams per output kind, pub/sub. Idempotent.

Keys (``{room}`` is a Redis Cluster hash tag, so one room's keys share a slot and the
write script may touch them together):

* ``livelens:{room}:state``            hash: latest value per field (see :func:`state_fields`;
                                       ``last:forecast`` is the room's latest forecast)
* ``livelens:{room}:stream:<kind>``    capped stream, one entry per event (field ``event`` = JSON)
* ``livelens:{room}:seen:<event_id>``  dedup marker with a TTL: a redelivered event writes nothing
* ``livelens:rooms``                   set of room ids

Retention: each per-room key's TTL is renewed on every write (``privacy.retention_s``, by kind:
``state``, ``stream:<kind>``, ``clips``, ``default``), so a room's data goes away that long after
its last event; ``livelens forget`` removes it at once (docs/DATA_INVENTORY.md).
* pub/sub: ``livelens:{room}:events`` and ``livelens:events`` carry each new event's JSON
* clip index (written by :mod:`sinks.clips`): ``livelens:{room}:clips`` (sorted set of clip ids
  by start_ms), ``livelens:{room}:clip:<clip_id>`` (hash: event JSON, score, status, start_ms),
  ``livelens:clips:rooms`` (set)
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import AuthenticationError, BusyLoadingError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from streams.observability import SINK_RETRIES, SINK_WRITES
from streams.schemas import Event, unbatched

log = logging.getLogger(__name__)

PREFIX = "livelens"
SEEN_TTL_S = 24 * 3600
#: errors after which a write is retried (Redis restarting, failing over, loading its data)
RETRYABLE = (RedisConnectionError, RedisTimeoutError, BusyLoadingError, OSError)

async def wait_for_redis(url: str, wait_s: float, max_delay_s: float = 5.0) -> None:
    """Return once Redis at ``url`` answers PING; retry with backoff (a worker may start before
    its Redis) and raise ``ConnectionError`` naming host and port (never the password) after
    ``wait_s``. Wrong credentials fail at once."""
    from redis.asyncio.connection import parse_url  # noqa: PLC0415

    where = "{host}:{port}".format(**{"host": "localhost", "port": 6379, **parse_url(url)})
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    delay, attempt = 0.2, 0
    client = aioredis.from_url(url, socket_connect_timeout=2.0)
    try:
        while True:
            attempt += 1
            try:
                await client.ping()
                return
            except AuthenticationError:
                raise  # retrying cannot fix a wrong password
            except RETRYABLE as exc:
                left = deadline - loop.time()
                if left <= 0:
                    raise ConnectionError(f"Redis {where} not reachable after {attempt} attempts "
                                          f"({wait_s:.0f} s); check LIVELENS_REDIS_URL") from exc
                log.warning("Redis %s not reachable (attempt %d): %s; retrying (giving up in %.0f s)",
                            where, attempt, exc, left)
                await asyncio.sleep(min(delay, left))
                delay = min(delay * 2, max_delay_s)
    finally:
        await client.aclose()


# Atomic: dedup marker, stream append, state update, retention and publish happen together or not at all.
# ARGV: seen TTL, stream maxlen, event JSON, room channel, all-rooms channel, stream TTL, state TTL,
# then the state hash's field/value pairs.
_WRITE_SCRIPT = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'event', ARGV[3])
  redis.call('EXPIRE', KEYS[2], ARGV[6])
  for i = 8, #ARGV, 2 do redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1]) end
  redis.call('EXPIRE', KEYS[3], ARGV[7])
  redis.call('PUBLISH', ARGV[4], ARGV[3])
  redis.call('PUBLISH', ARGV[5], ARGV[3])
  return 1
end
return 0
"""

#: seconds per-room data is kept after its last write, when no settings say (PrivacySettings' default)
DEFAULT_RETENTION_S = 7 * 24 * 3600


def room_key(room_id: str, *parts: str) -> str:
    return ":".join([PREFIX, "{" + room_id + "}", *parts])


def state_fields(event: Event, payload: str) -> dict[str, str]:
    """Fields of the room-state hash that an event sets (values as strings); ``payload`` is the
    event's JSON, which the caller has already (serialising is the sink's largest cost)."""
    kind = getattr(event, "kind", "event")
    fields: dict[str, Any] = {f"last:{kind}": payload, f"last:{kind}:stream_ms": event.stream_ms}
    if kind == "room_metrics":
        m = event
        fields.update({
            "total_messages": m.total_messages, "total_orders": m.total_orders,
            "total_gmv": round(m.total_gmv, 2), "messages_per_s": m.messages_per_s,
            "orders_per_min": m.orders_per_min, "unique_chatters": m.unique_chatters,
            "window_start_ms": m.window_start_ms,
        })
        if m.viewers is not None:
            fields["viewers"] = m.viewers
        if m.final:
            fields["ended"] = 1
    elif kind == "alert":
        fields[f"alert:{event.dedup_key}"] = event.state
    elif kind == "forecast":  # the latest forecast itself is ``last:forecast``
        fields["forecast_enough_data"] = int(event.enough_data)
    return {k: str(v) for k, v in fields.items()}


class RedisSink:
    """Writes are retried with capped exponential backoff while Redis is unreachable.

    A write never gives up on a connection error: the agent calling it blocks, so the stream
    behind it stops (faust pauses fetching once its buffers are full) and nothing is dropped;
    the input waits in Kafka until Redis is back. Retries are counted in
    ``livelens_sink_retries_total`` and logged (first retry, then every ``log_every``).
    """

    def __init__(self, url: str, stream_maxlen: int = 10_000, *, retry_initial_s: float = 0.1,
                 retry_max_s: float = 5.0, log_every: int = 10, retention: Callable[[str], int] | None = None):
        self.client = aioredis.from_url(url, decode_responses=True, health_check_interval=10,
                                        socket_keepalive=True, retry_on_timeout=True,
                                        socket_connect_timeout=2.0)
        self.stream_maxlen = stream_maxlen
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.log_every = log_every
        #: kind of key ("state", "stream:<kind>") -> its TTL in seconds (privacy.retention_for)
        self.retention = retention or (lambda _kind: DEFAULT_RETENTION_S)
        self._script = self.client.register_script(_WRITE_SCRIPT)

    async def write(self, event: Event) -> bool:
        """Write one event; False if it was already written (same ``event_id``)."""
        return (await self.write_many([event]))[0]

    async def write_many(self, events: list[Event]) -> list[bool]:
        """Write events in one pipelined round trip; per event written, False if it was a duplicate
        (a :class:`~streams.schemas.ChatInsights` batch is written as its items, each a
        ``chat_insight`` with its own stream entry, pub/sub message and result).

        Blocks (retrying with backoff) while Redis is unreachable; see the class docstring.
        Each event's write is one atomic script, so a retry after a half-done batch rewrites
        nothing twice.
        """
        events = [one for e in events for one in unbatched(e)]
        delay = self.retry_initial_s
        attempt = 0
        while True:
            try:
                return await self._write_batch(events)
            except RETRYABLE as exc:
                attempt += 1
                SINK_RETRIES.labels("redis").inc()
                if attempt == 1 or attempt % self.log_every == 0:
                    # the exception text names host:port only, never the URL's password
                    log.warning("redis sink: write failed (%s: %s); retry %d in %.1f s",
                                type(exc).__name__, exc, attempt, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max_s)

    async def _write_batch(self, events: list[Event]) -> list[bool]:
        pipe = self.client.pipeline(transaction=False)
        for event in events:
            room = event.room_id
            kind = getattr(event, "kind", "event")
            payload = event.model_dump_json()
            flat: list[str] = []
            for k, v in state_fields(event, payload).items():
                flat += [k, v]
            await self._script(
                keys=[room_key(room, "seen", event.event_id), room_key(room, "stream", kind), room_key(room, "state")],
                args=[SEEN_TTL_S, self.stream_maxlen, payload, room_key(room, "events"), f"{PREFIX}:events",
                      self.retention(f"stream:{kind}"), self.retention("state"), *flat],
                client=pipe,
            )
        # SADD is idempotent; done on every write so a retry after a half-done write still adds it
        pipe.sadd(f"{PREFIX}:rooms", *{e.room_id for e in events})
        results = (await pipe.execute())[: len(events)]
        for written in results:
            SINK_WRITES.labels("redis", "written" if written else "duplicate").inc()
        return [bool(w) for w in results]

    # ---- reads (API, dashboard, tests) -----------------------------------------------

    async def rooms(self) -> list[str]:
        return sorted(await self.client.smembers(f"{PREFIX}:rooms"))

    async def state(self, room_id: str) -> dict[str, str]:
        return await self.client.hgetall(room_key(room_id, "state"))

    async def events(self, room_id: str, kind: str, count: int = 1000, latest_first: bool = False) -> list[dict]:
        key = room_key(room_id, "stream", kind)
        rows = (await self.client.xrevrange(key, count=count)) if latest_first else (await self.client.xrange(key, count=count))
        return [json.loads(fields["event"]) for _id, fields in rows]

    async def close(self) -> None:
        await self.client.aclose()


def register(ctx) -> None:
    """Worker wiring: every output topic -> Redis (state hash, streams, pub/sub)."""
    from streams.schemas import DecodeError, decode_event
    from streams.topics import OUTPUT_TOPICS

    sink = RedisSink(ctx.redis_url, ctx.settings.redis_stream_maxlen, retention=ctx.settings.privacy.retention_for)
    source = ctx.topic(*OUTPUT_TOPICS)

    @ctx.app.agent(source, name=f"{ctx.settings.app_id}.sink-redis")
    async def redis_sink(stream):
        # batches of what is already waiting (at most 5 ms more): one Redis round trip each
        async for batch in stream.take(256, within=0.005):
            events = []
            for raw in batch:
                try:
                    events.append(decode_event(raw, max_bytes=ctx.settings.max_event_bytes * 4))
                except DecodeError as exc:  # outputs are ours; a bad one is a bug, never a crash
                    log.error("redis sink: undecodable output event: %s", exc.reason)
                    SINK_WRITES.labels("redis", "rejected").inc()
            if events:
                await sink.write_many(events)
