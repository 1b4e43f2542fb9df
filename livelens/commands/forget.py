"""``livelens forget --room R`` / ``--user U [--room R]``: remove that data everywhere livelens stored it.

Redis (streams, state, clip index: LIVELENS_REDIS_URL), the clip folders (clips dir) and a local
segment store's room folder; prints what it removed and how long it took (sinks/forget.py).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def forget(
        room: Optional[str] = typer.Option(None, "--room", help="the room: alone, all its data; with --user, "
                                           "only that viewer's data in it"),
        user: Optional[str] = typer.Option(None, "--user", help="a viewer id as the platform sent it (or its "
                                           "pseudonym): its chat, insights and alerts in every room"),
    ) -> None:
        """Delete a room's or a viewer's data from Redis, the clip index, clip files and segments."""
        from rich.console import Console

        from sinks.forget import forget_room, forget_user
        from streams.ingest.privacy import ViewerPrivacy
        from media.segment_store import check_room_id
        from streams.settings import Settings

        if not room and not user:
            raise typer.BadParameter("give --room, --user, or both")
        if room:
            try:
                check_room_id(room)
            except ValueError:
                raise typer.BadParameter(f"not a room id: {room!r}") from None
        settings = Settings()
        if not settings.redis_url:
            raise typer.BadParameter("LIVELENS_REDIS_URL is required (the Redis livelens wrote to)")
        segments = None if settings.segment_store.startswith("s3://") else Path(settings.segment_store)

        async def run():
            import redis.asyncio as aioredis

            client = aioredis.from_url(settings.redis_url.get_secret_value(), decode_responses=True)
            try:
                if user:
                    return await forget_user(client, user, ViewerPrivacy.from_settings(settings),
                                             [room] if room else None)
                return await forget_room(client, room, settings.clips_dir, segments)
            finally:
                await client.aclose()

        from redis.exceptions import ConnectionError as RedisConnectionError

        console = Console()
        t0 = time.perf_counter()
        try:
            removed = asyncio.run(run())
        except (OSError, RedisConnectionError) as exc:
            raise typer.BadParameter(f"cannot reach Redis: {exc}") from None
        elapsed_ms = (time.perf_counter() - t0) * 1000
        what = f"viewer {user!r}" + (f" in room {room!r}" if room else " in every room") if user else f"room {room!r}"
        console.print(f"forgot {what}: {removed.total} item(s) removed in {elapsed_ms:.0f} ms", markup=False)
        for key in removed.keys:
            console.print(f"  redis key   {key}", markup=False)
        for key, n in removed.stream_entries.items():
            console.print(f"  stream      {key}: {n} entr{'y' if n == 1 else 'ies'}", markup=False)
        for key, fields in removed.state_fields.items():
            console.print(f"  state       {key}: {', '.join(fields)}", markup=False)
        for member in removed.memberships:
            console.print(f"  set member  {member}", markup=False)
        for folder in removed.folders:
            console.print(f"  folder      {folder}", markup=False)
        if segments is None and not user:
            console.print("  (segments are in S3: they expire with the bucket's lifecycle rule)", markup=False)
