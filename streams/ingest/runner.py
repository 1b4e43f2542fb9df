"""Drive one room's ingest: media (+ optional chat/commerce replay) → ``publish(topic, event)``.

The Kafka side is the caller's: ``publish`` is ``async (topic_name, event) -> None`` where
``topic_name`` is a key of ``streams.topics.TOPICS`` ("audio", "frames", "segments", "chat",
"commerce", "dead_letters"); it stamps ``ingested_at`` (``Publisher.publish`` does). :func:`run_ingest`
sends a ``StreamMarker`` ``start`` on every input topic before any data, and ``end`` on every input
topic when the media ends (also when the run is cancelled), and sends unreadable replay lines to
"dead_letters".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from streams.ingest.edge import TOPIC_FOR_KIND
from media.decode import MediaIngest
from streams.ingest.pacing import Pacer, merge_by_stream_time, paced
from streams.ingest.replay import ReplayReject, ReplaySource
from streams.schemas import AudioChunk, Event, StreamMarker, dead_letter, parse_room_language
from media.segment_store import SegmentStore, open_segment_store
from streams.settings import Settings
from streams.topics import INPUT_TOPICS

log = logging.getLogger(__name__)

Publish = Callable[[str, Event], Awaitable[None]]



@dataclass
class IngestStats:
    published: dict[str, int] = field(default_factory=dict)  # topic -> events (markers included)
    media_errors: int = 0
    replay_rejects: int = 0
    last_stream_ms: int = 0
    wall_s: float = 0.0

    def count(self, topic: str) -> int:
        return self.published.get(topic, 0)


async def run_ingest(
    source: str,
    room_id: str,
    settings: Settings,
    publish: Publish,
    replay: Path | str | list[Path | str] | None = None,
    realtime: bool = True,
    speed: float = 1.0,
    on_progress: Callable[[IngestStats], None] | None = None,
    store: SegmentStore | None = None,
    language: str = "",
) -> IngestStats:
    """Ingest ``source`` for ``room_id`` until it ends; return the counts.

    ``language`` is the room's declared language ("zh", "en", "auto"; "" = undeclared): it goes
    on the start marker and on every audio chunk, so the ASR stage transcribes the room in it.

    Raises ``MediaOpenError`` (before any marker is sent) if the source cannot be opened, and
    ValueError for an unknown language.
    """
    language = parse_room_language(language) if language else ""
    stats = IngestStats()
    wall0 = time.monotonic()
    store = store or open_segment_store(settings.segment_store, settings.segment_retention_s)
    media = MediaIngest(
        source, room_id, store,
        audio_chunk_ms=settings.audio_chunk_ms, frame_fps=settings.frame_fps,
        frame_width=settings.frame_width, segment_s=settings.segment_s,
        realtime=False,  # the merged stream is paced below, once, against one clock
    )
    await asyncio.to_thread(media.open)  # fail fast, before any marker goes out
    replay_files = [replay] if isinstance(replay, (str, Path)) else list(replay or [])
    replay_sources = [ReplaySource(p, room_id, realtime=False) for p in replay_files]

    async def send(topic: str, event: Event) -> None:
        if isinstance(event, AudioChunk):
            event.language = language
        await publish(topic, event)  # the publisher stamps ingested_at as it enters Kafka
        stats.published[topic] = stats.published.get(topic, 0) + 1

    for topic in INPUT_TOPICS:
        await send(topic, StreamMarker(room_id=room_id, stream_ms=0, marker="start", source=source[:1024],
                                       language=language))
    for replay_source in replay_sources:
        for reject in replay_source.rejects:
            await send("dead_letters", _reject_letter(reject, room_id, replay_source.path))
        stats.replay_rejects += len(replay_source.rejects)

    sources: list = [aiter(media)] + [aiter(r) for r in replay_sources]
    merged = paced(merge_by_stream_time(*sources), Pacer(realtime, speed))
    last_progress = 0.0
    publish_failed = False
    errors_lettered = 0

    async def letter_media_errors() -> None:
        # corrupt media: each decode error goes to the dead-letter topic with its reason
        nonlocal errors_lettered
        for err in media.errors[errors_lettered:]:
            await send("dead_letters", dead_letter(b"", f"media: {err.reason} at {err.stream_ms} ms",
                                                   source_topic="media", room_id=room_id, processor="ingest"))
        errors_lettered = len(media.errors)

    try:
        async for event in merged:
            stats.last_stream_ms = max(stats.last_stream_ms, event.stream_ms)
            try:
                await send(TOPIC_FOR_KIND[event.kind], event)
                if len(media.errors) > errors_lettered:
                    await letter_media_errors()
            except BaseException:
                publish_failed = True
                raise
            if on_progress is not None and time.monotonic() - last_progress >= 0.5:
                last_progress = time.monotonic()
                stats.media_errors = len(media.errors)
                on_progress(stats)
    finally:
        media.stop()
        await merged.aclose()
        for it in sources:  # closing joins the media decode thread
            await it.aclose()
        stats.media_errors = len(media.errors)
        if not publish_failed:
            try:
                await letter_media_errors()
            except Exception:  # noqa: BLE001
                log.exception("could not dead-letter media errors for room %s", room_id)
            for topic in INPUT_TOPICS:
                try:
                    await send(topic, StreamMarker(room_id=room_id, stream_ms=stats.last_stream_ms,
                                                   marker="end", source=source[:1024]))
                except Exception:  # noqa: BLE001 - the run's own outcome matters more
                    log.exception("could not send the end marker on %s for room %s", topic, room_id)
                    break
        stats.wall_s = time.monotonic() - wall0
        for err in media.errors[:20]:
            log.warning("room %s media error at %d ms: %s", room_id, err.stream_ms, err.reason)
    if on_progress is not None:
        on_progress(stats)
    return stats


def _reject_letter(reject: ReplayReject, room_id: str, path: Path):
    return dead_letter(reject.raw, f"line {reject.line_no}: {reject.reason}",
                       source_topic=f"replay:{path.name}", room_id=room_id, processor="ingest")
