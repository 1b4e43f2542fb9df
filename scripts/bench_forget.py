"""How long ``livelens forget`` takes on a full Redis (embedded Valkey): 10 rooms x 10,000 chat
insights (the stream cap) of 300 viewers each, 20 indexed clips with files per room, written
through the real sinks; then forget one viewer in every room, one viewer in one room, one room.

    .venv/bin/python scripts/bench_forget.py

``forget --user`` reads every stream entry of each room (XRANGE in pages of 500) and deletes the
viewer's (XDEL); ``forget --room`` deletes the room's keys (SCAN by hash tag) and folders.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis.asyncio as aioredis  # noqa: E402

from sinks.clips import ClipStore  # noqa: E402
from sinks.redis import RedisSink  # noqa: E402
from sinks.forget import forget_room, forget_user  # noqa: E402
from streams.embedded import EmbeddedRedis  # noqa: E402
from streams.ingest.privacy import ViewerPrivacy  # noqa: E402
from streams.schemas import ChatInsight, Clip  # noqa: E402

ROOMS, N, VIEWERS = 10, 10_000, 300


async def main():
    server = EmbeddedRedis().start()
    tmp = Path(tempfile.mkdtemp())
    privacy = ViewerPrivacy("bench-secret")
    sink = RedisSink(server.url, stream_maxlen=10_000)
    store = ClipStore(tmp / "clips", server.url)
    t0 = time.perf_counter()
    for r in range(ROOMS):
        room = f"room-{r}"
        batch = [ChatInsight(room_id=room, event_id=f"{room}:m{i}", stream_ms=i, message_id=f"m{i}",
                             user_id=privacy.viewer_id(f"viewer-{i % VIEWERS}", room), text=f"message {i}",
                             sentiment="neutral", emotion="neutral", intent="other", confidence=0.5) for i in range(N)]
        for k in range(0, N, 1000):
            await sink.write_many(batch[k:k + 1000])
        for c in range(20):
            store.write_text(room, f"c{c}", "clip.srt", "x")
            await store.index(Clip(room_id=room, stream_ms=1, clip_id=f"c{c}", status="ready", start_ms=c,
                                   end_ms=c + 1))
    print("$ .venv/bin/python scripts/bench_forget.py")
    print(f"filled {ROOMS} rooms x {N} insights ({VIEWERS} viewers/room) + 20 clips/room "
          f"in {time.perf_counter() - t0:.1f} s")
    client = aioredis.from_url(server.url, decode_responses=True)
    for label, coro in [
        ("forget --user viewer-7 (every room)", lambda: forget_user(client, "viewer-7", privacy)),
        ("forget --user viewer-8 --room room-3", lambda: forget_user(client, "viewer-8", privacy, ["room-3"])),
        ("forget --room room-5", lambda: forget_room(client, "room-5", tmp / "clips")),
    ]:
        t = time.perf_counter()
        removed = await coro()
        print(f"{label}: {removed.total} items removed in {(time.perf_counter() - t) * 1000:.0f} ms")
    await client.aclose()
    await sink.close()
    await store.close()
    server.stop()


if __name__ == "__main__":
    asyncio.run(main())
