"""Editors' decisions in Redis, with the clip features the ranking learns from.

The decision itself is also a file beside the clip (:mod:`media.desk`: what export reads, with or
without Redis); this copy is what :mod:`models.clips.ranking` is trained from, across every room.

* ``livelens:{room}:decisions``   hash: ``clip_id`` -> JSON ``{"decision", "reason", "decided_at",
                                  "features": {...}}`` (the latest decision per clip)
* ``livelens:decisions:rooms``    set of rooms with decisions
* ``livelens:decisions:version``  counter bumped on every decision (the cached model's refit marker)

Kept like the rest of a room's data for the clips retention (``LIVELENS_PRIVACY__*``), refreshed
on every decision.
"""

from __future__ import annotations

import json
from typing import Any

from sinks.redis import PREFIX, room_key

ROOMS_KEY = f"{PREFIX}:decisions:rooms"
VERSION_KEY = f"{PREFIX}:decisions:version"


def decisions_key(room_id: str) -> str:
    return room_key(room_id, "decisions")


class DecisionStore:
    """Over a redis.asyncio client (``decode_responses=True``)."""

    def __init__(self, client: Any, retention_s: int = 30 * 24 * 3600):
        self.client = client
        self.retention_s = retention_s

    async def record(self, room_id: str, clip_id: str, decision: dict, features: dict) -> None:
        value = json.dumps({"decision": decision.get("decision"), "reason": decision.get("reason", ""),
                            "decided_at": decision.get("decided_at"), "features": features}, ensure_ascii=False)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(decisions_key(room_id), clip_id, value)
            pipe.expire(decisions_key(room_id), self.retention_s)
            pipe.sadd(ROOMS_KEY, room_id)
            pipe.incr(VERSION_KEY)
            await pipe.execute()

    async def room(self, room_id: str) -> dict[str, dict]:
        raw = await self.client.hgetall(decisions_key(room_id))
        return {clip_id: json.loads(value) for clip_id, value in raw.items()}

    async def all(self) -> list[dict]:
        """Every stored approve/reject with its room and clip id (pending entries, after a trim, left out)."""
        out = []
        for room_id in sorted(await self.client.smembers(ROOMS_KEY)):
            for clip_id, row in (await self.room(room_id)).items():
                if row.get("decision") in ("approved", "rejected"):
                    out.append({"room_id": room_id, "clip_id": clip_id, **row})
        return out

    async def version(self) -> int:
        """Changes whenever a decision is recorded: the cached model is refitted then."""
        return int(await self.client.get(VERSION_KEY) or 0)
