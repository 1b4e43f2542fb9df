"""Publish ingest events to Kafka, keyed by room, with watermark punctuation.

Events of one room are published in (close to) stream-time order across its input topics.
Each time a room's stream time advances by ``watermark_every_ms``, a ``watermark`` marker
goes onto EVERY input topic of the room ("nothing older than ``stream_ms - slack`` follows
here"), so processors that join several topics can close windows exactly, even for a topic
that is quiet (see :class:`streams.schemas.StreamMarker`).

Privacy: every chat / commerce event is pseudonymised and masked here, and every rejected line
before it becomes a dead letter (:mod:`streams.ingest.privacy`): raw viewer data never reaches Kafka.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer

from streams.ingest.edge import stamp_ingested
from streams.ingest.privacy import ViewerPrivacy
from streams.observability import DEAD_LETTERS, INGEST_EVENTS, reason_label
from streams.schemas import Event, StreamMarker, dead_letter
from streams.topics import INPUT_TOPICS, TopicNames

log = logging.getLogger(__name__)


@dataclass
class _RoomClock:
    max_ms: int = -1
    last_watermark_ms: int = -1


@dataclass
class Publisher:
    producer: AIOKafkaProducer
    topics: TopicNames
    watermark_every_ms: int = 1000
    #: events may trail the newest one by this much across topics (media chunking, merging)
    watermark_slack_ms: int = 1000
    input_topics: tuple[str, ...] = INPUT_TOPICS
    counts: Counter = field(default_factory=Counter)
    #: pseudonymises and masks viewer data (None: from the process's settings, privacy.secret or
    #: data_dir/privacy-secret; give the worker's settings' one where they differ)
    privacy: ViewerPrivacy | None = None
    _rooms: dict[str, _RoomClock] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.privacy is None:
            from streams.settings import get_settings  # noqa: PLC0415

            self.privacy = ViewerPrivacy.from_settings(get_settings())

    async def publish(self, topic: str, event: Event) -> None:
        """Send one input event (``topic`` is a TOPICS key such as "chat"): viewer data
        pseudonymised and masked, ``ingested_at`` stamped."""
        self.privacy.protect(event)
        stamp_ingested(event)
        await self.producer.send(self.topics.full(topic), event.to_bytes(), key=event.key)
        self.counts[topic] += 1
        INGEST_EVENTS.labels(topic).inc()
        await self._maybe_watermark(event.room_id, event.stream_ms)

    async def marker(self, room_id: str, marker: str, stream_ms: int, source: str = "", language: str = "") -> None:
        """Send a marker on every input topic of the room (``language``: a ``start``'s declared language)."""
        for topic in self.input_topics:
            m = StreamMarker(room_id=room_id, stream_ms=max(stream_ms, 0), marker=marker, source=source[:1024],
                             language=language)
            await self.producer.send(self.topics.full(topic), m.to_bytes(), key=m.key)
        self.counts[f"marker:{marker}"] += len(self.input_topics)

    async def reject(self, raw: bytes, reason: str, source: str, room_id: str = "unknown") -> None:
        """Bad input at the edge: keep it, with the reason, on the dead-letter topic."""
        DEAD_LETTERS.labels(source, reason_label(reason)).inc()
        dl = dead_letter(self.privacy.protect_payload(raw, room_id), reason, source, room_id, processor="ingest")
        await self.producer.send(self.topics.full("dead_letters"), dl.to_bytes(), key=dl.key)
        self.counts["dead_letters"] += 1

    async def flush(self) -> None:
        await self.producer.flush()

    async def _maybe_watermark(self, room_id: str, stream_ms: int) -> None:
        clock = self._rooms.setdefault(room_id, _RoomClock())
        clock.max_ms = max(clock.max_ms, stream_ms)
        if clock.max_ms - clock.last_watermark_ms >= self.watermark_every_ms:
            clock.last_watermark_ms = clock.max_ms
            wm = clock.max_ms - self.watermark_slack_ms
            if wm >= 0:
                await self.marker(room_id, "watermark", wm)
