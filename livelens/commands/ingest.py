"""``livelens ingest``: media files or live URLs (+ chat/commerce JSONL replays) into Kafka."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from livelens.errors import UserError
from streams.settings import Settings


def _pair_replays(rooms: list[str], replays: list[str]) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {r: [] for r in rooms}
    for item in replays:
        room, sep, path = item.partition("=")
        if not sep:  # a bare path belongs to the only room
            if len(rooms) != 1:
                raise typer.BadParameter(f"--replay {item}: with several rooms write ROOM=FILE")
            room, path = rooms[0], item
        if room not in out:
            raise typer.BadParameter(f"--replay {item}: unknown room {room!r}")
        out[room].append(Path(path))
    return out


def _room_languages(rooms: list[str], langs: list[str], rooms_file) -> dict[str, str]:
    """Each room's declared language: --lang (one for all, or one per room in order), else the
    rooms file's, else undeclared (""). An unknown code is a one-line error."""
    from streams.rooms import RoomConfigError, room_language
    from streams.schemas import parse_room_language

    if langs and len(langs) not in (1, len(rooms)):
        raise typer.BadParameter("give one --lang for all rooms, or one per room in order")
    try:
        parsed = [parse_room_language(v) for v in langs]
        return {r: (parsed[0] if len(parsed) == 1 else parsed[i]) if parsed else room_language(rooms_file, r)
                for i, r in enumerate(rooms)}
    except (ValueError, RoomConfigError) as exc:
        raise typer.BadParameter(str(exc)) from None


async def _ingest(settings: Settings, jobs: dict[str, tuple[str, list[Path]]], realtime: bool, speed: float,
                  languages: dict[str, str] | None = None) -> int:
    from rich.progress import Progress, TextColumn

    from streams.ingest.privacy import ViewerPrivacy
    from streams.ingest.publisher import Publisher
    from streams.ingest.runner import run_ingest
    from streams.kafka import ensure_topics, start_producer
    from streams.topics import TopicNames

    topics = TopicNames(settings.topic_prefix)
    await ensure_topics(settings, settings.kafka_bootstrap, topics.all())
    producer = await start_producer(settings, settings.kafka_bootstrap)
    publisher = Publisher(producer, topics, privacy=ViewerPrivacy.from_settings(settings))
    try:
        with Progress(*Progress.get_default_columns()[:1], TextColumn("{task.fields[at]}"),
                      TextColumn("{task.fields[sent]}")) as progress:
            tasks = {room: progress.add_task(room, total=None, at="", sent="") for room in jobs}

            def updater(room):
                def update(stats):
                    progress.update(tasks[room], at=f"{stats.last_stream_ms / 1000:7.1f} s",
                                    sent=" ".join(f"{k}={v}" for k, v in sorted(stats.published.items())))
                return update

            results = await asyncio.gather(*[
                run_ingest(src, room, settings, publisher.publish, replay=replays or None,
                           realtime=realtime, speed=speed, on_progress=updater(room),
                           language=(languages or {}).get(room, ""))
                for room, (src, replays) in jobs.items()], return_exceptions=True)
        await publisher.flush()
    finally:
        await producer.stop()
    failed = 0
    for room, result in zip(jobs, results):
        if isinstance(result, BaseException):
            failed += 1
            typer.echo(f"{room}: failed: {result}", err=True)
        else:
            typer.echo(f"{room}: {result.last_stream_ms / 1000:.1f} s of stream, media errors {result.media_errors}, "
                       f"replay rejects {result.replay_rejects}, wall {result.wall_s:.1f} s", err=True)
    return 1 if failed else 0


def register(app: typer.Typer) -> None:
    @app.command()
    def ingest(
        sources: list[str] = typer.Argument(..., help="Media files or live URLs (rtmp://, http(s) HLS/FLV, srt://)"),
        room: list[str] = typer.Option(None, "--room", help="Room id per source, in order (default: file stem)"),
        replay: list[str] = typer.Option(None, "--replay", help="Chat/commerce JSONL: FILE or ROOM=FILE; repeatable"),
        full_speed: bool = typer.Option(False, "--fast", help="No pacing (files only)"),
        speed: float = typer.Option(1.0, help="Pace at this multiple of real time"),
        lang: list[str] = typer.Option(None, "--lang", help="The room's language: zh, en or auto (identified "
                                       "from the first seconds of speech); one for all rooms or one per room. "
                                       "Default: the rooms file (LIVELENS_ROOMS_FILE), else the worker's setting"),
    ) -> None:
        """Publish audio chunks, frames, segment refs, chat and commerce of one or more rooms to Kafka."""
        settings = Settings()
        rooms = list(room or [])
        if rooms and len(rooms) != len(sources):
            raise typer.BadParameter("give one --room per source, or none")
        rooms = rooms or [Path(s).stem or f"room{i}" for i, s in enumerate(sources)]
        replays = _pair_replays(rooms, list(replay or []))
        languages = _room_languages(rooms, list(lang or []), settings.rooms_file)
        if not settings.kafka_bootstrap:  # after the flags: a bad flag is reported first
            raise UserError("set LIVELENS_KAFKA_BOOTSTRAP (`livelens infra` starts an embedded broker)")
        jobs = {r: (s, replays[r]) for r, s in zip(rooms, sources)}
        raise typer.Exit(asyncio.run(_ingest(settings, jobs, not full_speed, speed, languages)))
